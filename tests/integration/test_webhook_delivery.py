"""Webhooks through a real Celery worker to a real HTTP receiver started by the test: a run in
firm A is announced to firm A's endpoint (a failure retried with back-off, the same idempotency id,
a signature that verifies) and never to firm B's."""

import json

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import (
    Account,
    ApprovalPolicy,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    RebalanceRun,
    Security,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_start
from rebalancing.webhooks.endpoints import webhook_endpoint_create
from rebalancing.webhooks.signing import signature_verify
from tenants.models import Firm

from ..rebalancing.book import AS_OF, make_book
from ..webhooks.receiver import Receiver
from .conftest import wait_for

pytestmark = pytest.mark.integration
SECRET = "whsec_integration_0123456789"


@pytest.fixture
def receivers():
    made = [Receiver(answers=[500, 200]), Receiver(answers=[200])]
    yield made
    for r in made:
        r.close()


@pytest.fixture
def firms(django_db_blocker):
    with django_db_blocker.unblock():
        firms = Firm.objects.get(slug="firm-a"), Firm.objects.get(slug="firm-b")
    yield firms
    with django_db_blocker.unblock():
        for firm in firms:
            with tenant_context(firm):
                WebhookEvent.objects.all().delete()
                WebhookEndpoint.objects.all().delete()
                RebalanceRun.objects.all().delete()
                Account.objects.all().delete()
                Household.objects.all().delete()
                ModelPortfolio.objects.all().delete()
                ParameterTemplate.objects.all().delete()
                Security.objects.all().delete()


def test_a_run_in_one_firm_is_announced_to_its_endpoint_only_retried_and_signed(
        celery_worker_process, django_db_blocker, receivers, firms):
    (firm_a, firm_b), (hook_a, hook_b) = firms, receivers
    with django_db_blocker.unblock():
        with tenant_context(firm_a):
            ApprovalPolicy.current()
            ApprovalPolicy.objects.update(auto_approve=False, max_price_age_days=3650)
            make_book(2)
            endpoint = webhook_endpoint_create(url=hook_a.url, event_types=["run.finished"], user=None, secret=SECRET)
        with tenant_context(firm_b):
            webhook_endpoint_create(url=hook_b.url, event_types=["run.finished", "proposal.pending_approval"],
                                    user=None, secret=SECRET)
        with tenant_context(firm_a):
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="webhooks")  # its own transaction

        def delivered():
            with tenant_context(firm_a):
                return WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded").first()

        delivery = wait_for(delivered, timeout=120, worker=celery_worker_process)

    first, second = hook_a.received
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] == str(delivery.event_id)
    assert int(second.headers["Webhook-Timestamp"]) >= int(first.headers["Webhook-Timestamp"]) + 1  # back-off
    assert signature_verify(secret=SECRET, timestamp=second.headers["Webhook-Timestamp"], body=second.body,
                            header=second.headers["Webhook-Signature"])
    body = json.loads(second.body)
    assert body["type"] == "run.finished" and body["firm"] == firm_a.slug
    assert body["data"]["run"] == run.pk and body["data"]["status"] == "completed"
    assert (body["data"]["accounts"], body["data"]["done"], body["data"]["pending_approval"]) == (2, 2, 2)
    assert (delivery.attempts, delivery.response_code) == (2, 200)
    assert hook_b.received == []  # firm B's endpoint hears nothing of firm A
    with django_db_blocker.unblock(), tenant_context(firm_b):
        assert not WebhookDelivery.objects.exists()
