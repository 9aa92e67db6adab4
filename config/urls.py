"""URLs served on a firm's own host; every query runs in that firm's schema."""

from django.contrib import admin
from django.urls import include, path

from frontend.views import ChoosePasswordView, SignInView, SignOutView, security
from frontend.views.auth import ForgotPasswordDoneView, ForgotPasswordView
from tenants.admin import security_models_hide

security_models_hide(admin.site)

urlpatterns = [
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/set-password/<uidb64>/<token>/", ChoosePasswordView.as_view(), name="set_password"),
    # "Forgot your password?": the set_password link by e-mail (frontend.views.auth.ForgotPasswordView)
    path("accounts/reset/", ForgotPasswordView.as_view(), name="password_reset"),
    path("accounts/reset/done/", ForgotPasswordDoneView.as_view(), name="password_reset_done"),
    path("accounts/verify/", security.verify, name="mfa_verify"),  # the second step of signing in
    path("accounts/two-factor/", security.two_factor, name="two_factor"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("rebalancing.api.urls")),  # with its OpenAPI schema, docs/ and redoc/
    path("", include("frontend.urls")),  # the web pages (frontend/urls.py)
]

handler400 = "frontend.views.errors.bad_request"  # says which parameter was wrong
