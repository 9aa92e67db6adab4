"""Signing in and out, and choosing a password from an e-mailed link (an invitation, a reset sent by an
admin, or "Forgot your password?"): open to everyone, on firm hosts and the provider's host alike."""

import hashlib
import ipaddress

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy
from django_tenants.utils import get_public_schema_name

from rebalancing import dispatch
from tenants import people as people_rules

from .common import PUBLIC

# "Forgot your password?" sends at most this many links an hour for one address, and answers at most
# this many requests an hour from one client address (an office shares one): enough for a person who
# mistypes, too few to make the form a way of flooding someone's mailbox. Counted for every address
# typed, known or not, so the refusal says nothing about who has an account. django-axes counts
# failed sign-ins only, and the API's throttles do not cover pages.
LINKS_PER_ADDRESS = 3
REQUESTS_PER_CLIENT = 10
WINDOW_SECONDS = 3600


class SignInView(LoginView):
    page_access = PUBLIC
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class SignOutView(LogoutView):
    page_access = PUBLIC


class ChoosePasswordView(PasswordResetConfirmView):
    """A user chooses their password from a one-time link e-mailed to them (tenants.people: an
    invitation, a new one, a password-reset link, or "Forgot your password?"); the link stops working
    once it is used."""

    page_access = PUBLIC
    template_name = "registration/set_password.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form):
        first = not self.user.has_usable_password()
        with transaction.atomic():  # the new password and its audit row together
            response = super().form_valid(form)
            people_rules.password_chosen(self.user, first=first)
        messages.success(self.request, "Your password is set: sign in with your e-mail address.")
        return response


def client_address(request) -> str | None:
    """The address of the person's machine (AXES_CLIENT_IP_CALLABLE: sign-in audit records, lockouts,
    and the "Forgot your password?" limit). Behind ``TRUSTED_PROXY_COUNT`` proxies (the ingress: 1)
    REMOTE_ADDR is the nearest proxy's; each proxy appends the address it was reached from to
    X-Forwarded-For, so the client is the entry the farthest trusted proxy wrote, the count-th from
    the right. Entries left of it are whatever the client sent: never read. No trusted proxy (a bare
    dev server), or a header shorter than the proxies would write: REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < trusted:  # not from behind the proxies (a probe on the pod's own address)
        return remote
    try:
        return str(ipaddress.ip_address(hops[-trusted]))
    except ValueError:  # not an address: a proxy misconfigured; the nearest peer is what is known
        return remote


def _client_address(request) -> str:
    from axes.helpers import get_client_ip_address  # as sign-ins are counted (tenants.security.sign_ins)

    return get_client_ip_address(request) or "unknown"


def _counted(key: str) -> int:
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def link_request_allowed(request, email: str) -> bool:
    """Count one request for a link (per typed address and per client address, in this schema's
    cache keys) and say whether it is within the limits."""
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    per_address = _counted(f"password-link:address:{address}")
    per_client = _counted(f"password-link:client:{_client_address(request)}")
    return per_address <= LINKS_PER_ADDRESS and per_client <= REQUESTS_PER_CLIENT


class PasswordLinkForm(PasswordResetForm):
    """Django's form, with who gets a link decided by tenants.people (active people of this host's
    schema, including the invited who have not chosen a password yet) and each link audited."""

    requested_from = ""

    def get_users(self, email):
        return people_rules.password_link_recipients(email)

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        people_rules.password_link_requested(context["user"], typed=self.cleaned_data["email"],
                                             ip=self.requested_from)
        super().send_mail(subject_template_name, email_template_name, context, from_email, to_email,
                          html_email_template_name)


class ForgotPasswordView(PasswordResetView):
    """"Forgot your password?": e-mails a one-time link to the ``set_password`` page. It answers the same
    whether or not the address has an account (the "done" page), and sends nothing beyond the limits."""

    page_access = PUBLIC
    form_class = PasswordLinkForm
    template_name = "registration/forgot_password.html"
    subject_template_name = "registration/password_link_subject.txt"
    email_template_name = "registration/password_link_email.txt"

    def form_valid(self, form):
        if not link_request_allowed(self.request, form.cleaned_data["email"]):
            form.add_error(None, "Too many links were asked for, for this address or from your network, in the "
                                 "last hour. Links already sent keep working; try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        tenant = getattr(self.request, "tenant", None)
        name = getattr(tenant, "name", "") or "the rebalancing service"
        on_provider_host = connection.schema_name == get_public_schema_name()
        owner = f"the provider console ({name})" if on_provider_host else name
        # The link is looked up and mailed by a worker: the page does the same work, in the same time,
        # whether or not the address has an account here.
        dispatch.send(dispatch.PASSWORD_LINK_SEND, form.cleaned_data["email"], _client_address(self.request), owner,
                      self.request.get_host(), self.request.is_secure())
        return HttpResponseRedirect(self.get_success_url())


class ForgotPasswordDoneView(PasswordResetDoneView):
    page_access = PUBLIC
    template_name = "registration/forgot_password_done.html"
