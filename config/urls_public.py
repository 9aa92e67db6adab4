"""URLs served on the provider's host (the public schema): the provider console and its admin."""

from django.urls import include, path

from frontend.views import SignInView, SignOutView, security
from frontend.views.auth import ChoosePasswordView
from tenants.admin import provider_admin_site

urlpatterns = [
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    # where invited provider staff choose their password (tenants.people.invite)
    path("accounts/set-password/<uidb64>/<token>/", ChoosePasswordView.as_view(), name="set_password"),
    path("accounts/verify/", security.verify, name="mfa_verify"),  # the second step of signing in
    path("accounts/two-factor/", security.two_factor, name="two_factor"),
    path("admin/", provider_admin_site.urls),
    path("", include("frontend.urls_provider")),
]

handler400 = "frontend.views.errors.bad_request"  # says which parameter was wrong
