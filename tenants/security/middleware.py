"""Where a second factor is due (tenants.security.mfa.mfa_due), a signed-in session reaches nothing
but the page that asks for it, or the page that sets it up, and signing out. Pages are redirected
there (and come back afterwards); the API, used with this session, answers 403 ``mfa_required``.
API keys are not sessions and are not affected (a key is its own credential, with its own scopes).
"""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect, JsonResponse

from .mfa import mfa_due

__all__ = ["TwoFactorMiddleware"]

VERIFY_PATH = "/accounts/verify/"
ENROL_PATH = "/accounts/two-factor/"
_OPEN = ("/accounts/logout/", "/static/")
_ALLOWED = {"verify": (VERIFY_PATH, *_OPEN), "enrol": (ENROL_PATH, *_OPEN)}


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified():
            due = mfa_due(user, getattr(request, "tenant", None))
            if due is not None and not request.path.startswith(_ALLOWED[due]):
                return self._refuse(request, due)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, due: str):
        if request.path.startswith("/api/"):
            message = ("Confirm your sign-in with your authenticator app first." if due == "verify" else
                       "Your firm requires two-factor authentication: set it up in the browser first.")
            return JsonResponse({"code": "mfa_required", "message": message, "detail": {"step": due}}, status=403)
        target = VERIFY_PATH if due == "verify" else ENROL_PATH
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)
