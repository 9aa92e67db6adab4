"""Work the pages hand to a worker. Each task runs in the schema it was sent from
(tenant-schemas-celery): a firm's, or the provider's (public) one."""

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.urls import set_urlconf
from django_tenants.utils import get_public_schema_name

__all__ = ["password_link_send"]


@shared_task(acks_late=True)
def password_link_send(email: str, requested_from: str, owner: str, domain: str, use_https: bool) -> int:
    """"Forgot your password?": e-mail the one-time link to whoever may sign in here as ``email``
    (nobody, for an address without an account). Sent from a worker so that the page answers in the
    same time whoever the address is. Returns how many links were sent."""
    from frontend.views.auth import ForgotPasswordView, PasswordLinkForm

    public = connection.schema_name == get_public_schema_name()
    set_urlconf(settings.PUBLIC_SCHEMA_URLCONF if public else settings.ROOT_URLCONF)  # the link's host's pages
    try:
        form = PasswordLinkForm({"email": email})
        if not form.is_valid():
            return 0
        form.requested_from = requested_from
        sent = len(list(form.get_users(form.cleaned_data["email"])))
        form.save(domain_override=domain, use_https=use_https, extra_email_context={"owner": owner},
                  subject_template_name=ForgotPasswordView.subject_template_name,
                  email_template_name=ForgotPasswordView.email_template_name)
        return sent
    finally:
        set_urlconf(None)
