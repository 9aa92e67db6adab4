"""The provider host's pages (config/urls_public.py includes them at the root)."""

from django.urls import path

from .views import provider, provider_audit, provider_firms, security

urlpatterns = [
    path("", provider.provider_console, name="home"),
    path("firms/new/", provider.provider_firm_create, name="provider_firm_create"),
    path("firms/<slug:slug>/", provider_firms.provider_firm, name="provider_firm"),
    path("firms/<slug:slug>/name/", provider_firms.provider_firm_rename, name="provider_firm_rename"),
    path("firms/<slug:slug>/hosts/", provider_firms.provider_firm_hosts, name="provider_firm_hosts"),
    path("firms/<slug:slug>/invite/", provider_firms.provider_firm_invite, name="provider_firm_invite"),
    path("firms/<slug:slug>/status/", provider.provider_firm_status, name="provider_firm_status"),
    path("audit/", provider_audit.provider_audit, name="provider_audit"),
    path("runs/", provider.provider_runs, name="provider_runs"),
    path("runs/start/", provider.provider_run_start, name="provider_run_start"),
    path("runs/<slug:slug>/<int:pk>/", provider.provider_run_detail, name="provider_run_detail"),
    path("runs/<slug:slug>/<int:pk>/retry/", provider.provider_run_retry, name="provider_run_retry"),
    path("staff/", provider.provider_staff, name="provider_staff"),
    path("security/", security.provider_security_page, name="security"),
]
