"""URLs served on the provider's host (the public schema): the provider console and its admin."""

from django.urls import include, path

from frontend.views import SignInView, SignOutView, security
from frontend.views.auth import ChoosePasswordView, ForgotPasswordDoneView, ForgotPasswordView
from tenants.admin import provider_admin_site

urlpatterns = [
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    # where invited provider staff choose their password (tenants.people.invite)
    path("accounts/set-password/<uidb64>/<token>/", ChoosePasswordView.as_view(), name="set_password"),
    # "Forgot your password?": the set_password link by e-mail (frontend.views.auth.ForgotPasswordView)
    path("accounts/reset/", ForgotPasswordView.as_view(), name="password_reset"),
    path("accounts/reset/done/", ForgotPasswordDoneView.as_view(), name="password_reset_done"),
    path("accounts/verify/", security.verify, name="mfa_verify"),  # the second step of signing in
    path("accounts/two-factor/", security.two_factor, name="two_factor"),
    path("admin/", provider_admin_site.urls),
    path("", include("frontend.urls_provider")),
]

handler400 = "frontend.views.errors.bad_request"  # says which parameter was wrong
