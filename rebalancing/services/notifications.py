"""Telling approvers that proposals wait for them, by e-mail (Django's mail framework; the demo
writes mail to the console): after each run, or once a day as a digest, as each person chose."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Max

from rebalancing.access import proposals_decidable_by
from rebalancing.models import NotificationPreference, RebalanceRun
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import ROLE_CAPABILITIES, Capability
from tenants.sites import site_url

__all__ = ["approvals_digest_send", "approvers_notify_run", "notification_preference_of", "notification_preference_set"]

Pref = NotificationPreference.Approvals
_DECIDING = (Capability.APPROVE, Capability.APPROVE_COMPLIANCE)


def notification_preference_of(user) -> str:
    row = NotificationPreference.objects.filter(user=user).first()
    return row.approvals if row else Pref.EACH_RUN


@transaction.atomic
def notification_preference_set(*, user, approvals: str) -> NotificationPreference:
    """A person's own choice of how they hear of proposals waiting for them."""
    if approvals not in Pref.values:
        raise ValidationFailed("Choose how you want to hear of proposals waiting for you.",
                               detail={"field": "approvals"})
    before = notification_preference_of(user)
    row, _ = NotificationPreference.objects.update_or_create(user=user, defaults={"approvals": approvals})
    if before != approvals:
        audit_record(actor=user, action=Action.USER_NOTIFICATIONS, obj=row, before={"approvals": before},
                     after={"approvals": approvals})
    return row


def _approvers(choice: str):
    roles = [role for role, caps in ROLE_CAPABILITIES.items() if caps & set(_DECIDING)]
    users = get_user_model().objects.filter(is_active=True, groups__name__in=roles).exclude(email="").distinct()
    chosen = dict(NotificationPreference.objects.filter(user__in=users).values_list("user_id", "approvals"))
    return [u for u in users.order_by("pk") if chosen.get(u.pk, Pref.EACH_RUN) == choice]


def _approvals_url() -> str:
    return site_url(getattr(getattr(connection, "tenant", None), "primary_domain", None), "/approvals/")


def _send(user, subject: str, lines: list[str]) -> None:
    body = "\n".join([f"Hello {user.first_name or user.get_username()},", "", *lines, "", _approvals_url(), "",
                      "You can change how you hear of these on the E-mail notices page."])
    send_mail(subject=subject, message=body, from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email])


def approvers_notify_run(*, run_id: int) -> int:
    """After a run: e-mail each approver (who chose 'each run') how many of its proposals wait for
    them. After a revision (a run of one edited proposal), what changed, to each approver but the
    person who made the edit. Returns how many e-mails were sent."""
    run = RebalanceRun.objects.select_related("started_by").filter(pk=run_id).first()
    if run is None:
        return 0
    revision = run.kind == RebalanceRun.Kind.REVISION
    sent = 0
    for user in _approvers(Pref.EACH_RUN):
        if revision and user.pk == run.started_by_id:
            continue  # they made the edit: they know it waits
        waiting = proposals_decidable_by(user).filter(run=run)
        if revision:
            proposal = waiting.select_related("account").first()
            if proposal is not None:
                _send(user, *_revision_notice(run, proposal))
                sent += 1
            continue
        count = waiting.count()
        if not count:
            continue
        accounts = ", ".join(waiting.order_by("account__custodian_number")
                             .values_list("account__custodian_number", flat=True)[:10])
        # The run's day, and the closes its proposals were priced with when they are older (a run on a
        # Sunday prices with Friday's): what the proposal page says.
        priced = waiting.aggregate(closes=Max("priced_on"))["closes"]
        day = f"as of {run.as_of:%b %-d, %Y}" + (
            f", priced with closes of {priced:%b %-d, %Y}" if priced is not None and priced != run.as_of else "")
        _send(user, f"{count} proposal{'s' if count != 1 else ''} wait{'' if count != 1 else 's'} for your approval",
              [f"Run {run.pk} ({day}) left {count} proposal{'s' if count != 1 else ''} "
               f"for you to decide: accounts {accounts}{' and more' if count > 10 else ''}."])
        sent += 1
    return sent


def _revision_notice(run, proposal) -> tuple[str, list[str]]:
    who = (run.started_by.get_full_name() if run.started_by_id else "") or run.started_by_label
    number = proposal.account.custodian_number
    changes = "; ".join((proposal.revision or {}).get("changes") or ()) or "edited"
    return (f"Proposal #{proposal.pk} for account {number}, revised by {who}, waits for your approval",
            [f"{who} edited proposal #{proposal.revised_from_id} for account {number} ({changes}) and solved it "
             f"again: proposal #{proposal.pk} replaces it and waits for you to decide."])


def approvals_digest_send() -> int:
    """The daily digest: every approver who chose it hears what waits for them, if anything."""
    sent = 0
    for user in _approvers(Pref.DAILY):
        waiting = proposals_decidable_by(user)
        count = waiting.count()
        if not count:
            continue
        oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
        _send(user, f"Daily digest: {count} proposal{'s' if count != 1 else ''} wait{'' if count != 1 else 's'} "
                    "for your approval",
              [f"{count} proposal{'s' if count != 1 else ''} wait{'' if count != 1 else 's'} for you, the oldest "
               f"since {oldest:%b %-d, %Y}."])
        sent += 1
    return sent
