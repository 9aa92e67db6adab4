"""An endpoint whose deliveries keep failing for good is paused (a dead receiver must not hold the shared
notify queue's workers): after WEBHOOK_PAUSE_AFTER_FAILURES in a row nothing more is queued or sent to
it, what waits for it is not sent, the pause is audited and the firm's admins are e-mailed; a success
starts the count over; a firm admin resumes it (audited, the count starts over). Against a real HTTP
receiver on this machine, and against a plain counter over many random runs."""

import random

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.addresses import url_for_audit
from rebalancing.webhooks.delivery import webhook_delivery_attempt, webhook_delivery_resend
from rebalancing.webhooks.endpoints import (
    webhook_endpoint_remove,
    webhook_endpoint_resume,
    webhook_endpoint_update,
)
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, ValidationFailed

from ..api.conftest import API

pytestmark = pytest.mark.django_db
S = WebhookDelivery.Status
SETTLED = (S.SUCCEEDED, S.FAILED, S.CANCELLED)


def _deliver(pk: int) -> WebhookDelivery:
    """What the task does with its retries: attempt until the delivery is settled."""
    while True:
        delivery = webhook_delivery_attempt(delivery_id=pk)
        if delivery.status in SETTLED:
            return delivery


def _emit(n: int) -> list[int]:
    for i in range(n):
        webhook_emit(EventType.RUN_FINISHED, {"run": i})
    return list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))[-n:]


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=3, WEBHOOK_MAX_ATTEMPTS=2)
def test_a_dead_endpoint_is_paused_after_the_failures_in_a_row(firm_a, people, receiver, endpoint_for, mailoutbox,
                                                                django_capture_on_commit_callbacks):
    # given: a receiver that answers 500 to everything, and five events for it
    dead = receiver([500])
    endpoint = endpoint_for(firm_a, dead.url)
    with tenant_context(firm_a):
        ids = _emit(5)

        # when: deliveries are attempted until settled, one after the other
        with django_capture_on_commit_callbacks(execute=True):
            outcomes = [_deliver(pk) for pk in ids]

        # then: the third delivery failing for good paused it; the other two were not sent
        assert [d.status for d in outcomes] == [S.FAILED, S.FAILED, S.FAILED, S.CANCELLED, S.CANCELLED]
        assert [d.attempts for d in outcomes] == [2, 2, 2, 0, 0]
        assert outcomes[3].error == "not sent: the endpoint was paused"
        assert len(dead.received) == 6
        endpoint.refresh_from_db()
        assert endpoint.paused and endpoint.active and endpoint.failures_in_a_row == 3
        assert endpoint.paused_reason == "3 deliveries in a row failed after every attempt (the last: answered 500)"
        # nothing new is queued for it, and a re-send is refused until it is resumed
        assert webhook_emit(EventType.RUN_FINISHED, {"run": 9}) == 0
        with pytest.raises(ValidationFailed, match="paused"):
            webhook_delivery_resend(delivery=outcomes[0], user=people["admin"])
        audit = AuditEvent.objects.get(action="webhook.endpoint.pause")
        assert audit.actor_kind == AuditEvent.ActorKind.SYSTEM and audit.object_id == str(endpoint.pk)
        assert audit.after == {"url": url_for_audit(dead.url), "failures_in_a_row": 3,
                               "reason": endpoint.paused_reason, "deliveries_not_sent": 2}
    # and the firm's admins (only they may resume it) are told why and where to resume it
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        u.email for u in _admins(firm_a))
    assert "admin@a.example" in [m.to[0] for m in mailoutbox]
    notice = next(m for m in mailoutbox if m.to == ["admin@a.example"])
    assert notice.subject == f"Webhook endpoint paused: {url_for_audit(dead.url)}"
    assert endpoint.paused_reason in notice.body and f"/webhooks/{endpoint.pk}/" in notice.body
    assert "2 deliveries waiting for it were not sent" in notice.body
    assert "/hooks" not in notice.body.replace(f"/webhooks/{endpoint.pk}/", "")  # the URL's path is masked


def _admins(firm):
    from django.contrib.auth import get_user_model

    from tenants.roles import FirmRole

    with tenant_context(firm):
        return list(get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN, is_active=True)
                    .exclude(email=""))


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=3, WEBHOOK_MAX_ATTEMPTS=1)
def test_a_success_starts_the_count_over(firm_a, receiver, endpoint_for):
    hook = receiver([500, 500, 200, 500, 500, 500])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        ids = _emit(6)

        statuses = [_deliver(pk).status for pk in ids[:5]]
        endpoint.refresh_from_db()
        assert statuses == [S.FAILED, S.FAILED, S.SUCCEEDED, S.FAILED, S.FAILED]
        assert not endpoint.paused and endpoint.failures_in_a_row == 2

        _deliver(ids[5])
        endpoint.refresh_from_db()
        assert endpoint.paused and endpoint.failures_in_a_row == 3


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=2, WEBHOOK_MAX_ATTEMPTS=3)
def test_a_retry_that_succeeds_is_no_failure_and_a_retry_recorded_after_the_pause_is_not_sent(
        firm_a, receiver, endpoint_for):
    hook = receiver([500, 500, 200, 500, 500, 500, 500, 500, 500])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        first, second, third = _emit(3)
        assert _deliver(first).status == S.SUCCEEDED  # after two failed attempts
        # an attempt of the third was on the wire when the second paused the endpoint
        assert webhook_delivery_attempt(delivery_id=third).status == S.RETRYING
        assert _deliver(second).status == S.FAILED
        endpoint.refresh_from_db()
        assert not endpoint.paused and endpoint.failures_in_a_row == 1
        assert _deliver(third).status == S.FAILED
        endpoint.refresh_from_db()
        assert endpoint.paused
        # an attempt on the wire at the pause that recorded a retry after it: the retry sends nothing
        late = WebhookDelivery.objects.create(event_id=WebhookDelivery.objects.get(pk=first).event_id,
                                              endpoint=endpoint, status=S.RETRYING, attempts=1)
        sent = len(hook.received)
        again = webhook_delivery_attempt(delivery_id=late.pk)
        assert again.status == S.CANCELLED and again.error == "not sent: the endpoint was paused"
        assert len(hook.received) == sent


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=1, WEBHOOK_MAX_ATTEMPTS=1)
def test_deliveries_to_an_endpoint_switched_off_are_not_counted(firm_a, receiver, endpoint_for):
    hook = receiver([200])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        [pk] = _emit(1)
        webhook_endpoint_update(endpoint=endpoint, user=None, active=False)

        assert _deliver(pk).error == "the endpoint was switched off"

        endpoint.refresh_from_db()
        assert not endpoint.paused and endpoint.failures_in_a_row == 0


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=0, WEBHOOK_MAX_ATTEMPTS=1)
def test_zero_never_pauses(firm_a, receiver, endpoint_for):
    endpoint = endpoint_for(firm_a, receiver([500]).url)
    with tenant_context(firm_a):
        for pk in _emit(4):
            _deliver(pk)
        endpoint.refresh_from_db()
        assert not endpoint.paused and endpoint.failures_in_a_row == 4


@override_settings(WEBHOOK_PAUSE_AFTER_FAILURES=2, WEBHOOK_MAX_ATTEMPTS=1)
def test_resuming_sends_again_starts_the_count_over_and_is_audited(firm_a, people, receiver, endpoint_for):
    hook = receiver([500, 500, 200])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        failed = [_deliver(pk) for pk in _emit(2)]
        endpoint.refresh_from_db()
        paused_at, reason = endpoint.paused_at, endpoint.paused_reason
        assert endpoint.paused

        resumed = webhook_endpoint_resume(endpoint=endpoint, user=people["admin"])

        assert not resumed.paused and resumed.paused_reason == "" and resumed.failures_in_a_row == 0
        audit = AuditEvent.objects.get(action="webhook.endpoint.resume")
        assert audit.actor == "admin@a.example"
        assert audit.before == {"url": url_for_audit(hook.url), "paused_at": paused_at.isoformat(),
                                "paused_reason": reason, "failures_in_a_row": 2}
        # new events go to it again, and what failed can be sent again
        [pk] = _emit(1)
        assert _deliver(pk).status == S.SUCCEEDED
        assert webhook_delivery_resend(delivery=failed[0], user=people["admin"]).status == S.PENDING
        # resuming one not paused, or a removed one, is refused and changes nothing
        with pytest.raises(Conflict, match="not paused"):
            webhook_endpoint_resume(endpoint=endpoint, user=people["admin"])
        webhook_endpoint_remove(endpoint=endpoint, user=people["admin"])
        with pytest.raises(Conflict, match="removed"):
            webhook_endpoint_resume(endpoint=endpoint, user=people["admin"])
        assert AuditEvent.objects.filter(action="webhook.endpoint.resume").count() == 1


def test_a_pause_needs_its_reason(firm_a, endpoint_for):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    endpoint = endpoint_for(firm_a, "https://hooks.example.com/p")
    with tenant_context(firm_a), pytest.raises(IntegrityError), transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=timezone.now())


# One attempt's outcome, as the receiver answers it: a success, a failure retried (the delivery then
# succeeds or fails on its second and last attempt).
OUTCOMES = {"ok": [200], "retried_ok": [500, 200], "failed": [500, 503]}


def _expected(outcomes: list[str], limit: int) -> list[tuple[str, int, bool]]:
    """The rule, written plainly: (status, failures in a row, paused) after each delivery."""
    count, paused, out = 0, False, []
    for outcome in outcomes:
        if paused:
            out.append(("not queued", count, True))
            continue
        if outcome == "failed":
            count += 1
            paused = count >= limit
        else:
            count = 0
        out.append(("failed" if outcome == "failed" else "succeeded", count, paused))
    return out


@override_settings(WEBHOOK_MAX_ATTEMPTS=2)
def test_random_runs_pause_exactly_where_a_plain_counter_says(firm_a, receiver, endpoint_for, settings):
    rng = random.Random(20261207)
    for case in range(40):
        limit = rng.randint(1, 5)
        settings.WEBHOOK_PAUSE_AFTER_FAILURES = limit
        outcomes = [rng.choice(["ok", "retried_ok", "failed", "failed"]) for _ in range(rng.randint(1, 14))]
        hook = receiver([code for o in outcomes for code in OUTCOMES[o]])
        endpoint = endpoint_for(firm_a, hook.url)
        got = []
        with tenant_context(firm_a):
            for _ in outcomes:
                if not webhook_emit(EventType.RUN_FINISHED, {"case": case}):
                    endpoint.refresh_from_db()
                    got.append(("not queued", endpoint.failures_in_a_row, endpoint.paused))
                    continue
                status = _deliver(WebhookDelivery.objects.latest("pk").pk).status
                endpoint.refresh_from_db()
                got.append((status, endpoint.failures_in_a_row, endpoint.paused))
            webhook_endpoint_remove(endpoint=endpoint, user=None)  # the next case's endpoint alone receives
        assert got == _expected(outcomes, limit), (case, limit, outcomes)


# --- The API: the endpoint says it is paused, why and since when; a firm admin resumes it ----------

def _paused(firm, endpoint, reason="20 deliveries in a row failed after every attempt (the last: answered 503)"):
    from django.utils import timezone

    with tenant_context(firm):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=timezone.now(), paused_reason=reason,
                                                              failures_in_a_row=20)
        return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_the_api_shows_the_pause_and_a_firm_admin_resumes(firm_a, people, client_for, endpoint_for):
    endpoint = _paused(firm_a, endpoint_for(firm_a, "https://hooks.example.com/api"))
    admin = client_for(firm_a, people["admin"])

    shown = admin.get(f"{API}/webhook-endpoints/{endpoint.pk}/").json()
    resumed = admin.post(f"{API}/webhook-endpoints/{endpoint.pk}/resume/", content_type="application/json")

    assert shown["paused_at"] == endpoint.paused_at.isoformat().replace("+00:00", "Z")
    assert shown["paused_reason"] == endpoint.paused_reason and shown["failures_in_a_row"] == 20
    assert resumed.status_code == 200, resumed.content
    body = resumed.json()
    assert (body["paused_at"], body["paused_reason"], body["failures_in_a_row"]) == (None, "", 0)
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.get(pk=endpoint.pk).paused
        assert AuditEvent.objects.get(action="webhook.endpoint.resume").actor == "admin@a.example"
    again = admin.post(f"{API}/webhook-endpoints/{endpoint.pk}/resume/", content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_only_a_firm_admin_of_the_firm_resumes_and_with_no_body(firm_a, firm_b, people, client_for, firm_user,
                                                                 endpoint_for):
    from tenants.roles import FirmRole
    endpoint = _paused(firm_a, endpoint_for(firm_a, "https://hooks.example.com/api"))
    url = f"{API}/webhook-endpoints/{endpoint.pk}/resume/"
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    answers = {who: client_for(firm_a, people[who]).post(url, content_type="application/json").status_code
               for who in ("pm", "advisor", "compliance")}
    with_body = client_for(firm_a, people["admin"]).post(url, {"why": "x"}, content_type="application/json")

    assert answers == {"pm": 403, "advisor": 403, "compliance": 403}
    assert other.post(url, content_type="application/json").status_code == 404
    assert with_body.status_code == 400
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).paused
        assert not AuditEvent.objects.filter(action="webhook.endpoint.resume").exists()
