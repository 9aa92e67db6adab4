"""URLs served on the provider's host (the public schema): the provider console and its admin."""

from django.http import JsonResponse
from django.urls import include, path, re_path

from config.api_errors import error_body
from frontend.views import SignInView, SignOutView, security
from frontend.views.auth import ChoosePasswordView, ForgotPasswordDoneView, ForgotPasswordView
from frontend.views.common import PUBLIC
from tenants.admin import provider_admin_site


def api_not_here(request, rest: str = ""):
    """The API answers on each firm's own host: an integration pointed at the provider's gets the
    API's error body (JSON, code not_found) saying so, not an HTML page it cannot read."""
    return JsonResponse(error_body("not_found", (
        f"The API is served on each firm's own host ({request.scheme}://<firm>.{request.get_host()}/api/v1/), "
        "not on the provider's."), {"path": request.path}), status=404)


api_not_here.page_access = PUBLIC  # says only where the API is


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
    re_path(r"^api(?:/(?P<rest>.*))?$", api_not_here),
    path("", include("frontend.urls_provider")),
]

handler400 = "frontend.views.errors.bad_request"  # says which parameter was wrong
