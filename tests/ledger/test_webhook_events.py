"""The ledger announces what a firm's systems wait for: orders released, executions imported."""

from datetime import date

import pytest

from rebalancing.ledger.executions import executions_apply
from rebalancing.models import WebhookEvent
from rebalancing.webhooks.endpoints import webhook_endpoint_create

from .helpers import fill, release, sell

pytestmark = pytest.mark.django_db


def test_executions_applied_are_announced_with_the_orders_they_touched_and_a_repeat_is_not(book, pm):
    webhook_endpoint_create(url="http://127.0.0.1:9/fills", event_types=["executions.imported"], user=None)
    [order] = release(book["account"], [sell("VTI", 120, 100.0, [("A-1-L2", 50), ("A-1-L1", 70)])], pm=pm,
                      as_of=date(2026, 11, 18))
    records = [fill("X-1", order, "120", "100", date(2026, 11, 18))]

    executions_apply(records=records, actor=pm, as_of=date(2026, 11, 20))
    executions_apply(records=records, actor=pm, as_of=date(2026, 11, 20))  # the same again: nothing new

    [event] = WebhookEvent.objects.all()
    assert event.event_type == "executions.imported"
    assert event.payload == {"source": "api", "applied": 1, "unchanged": 0, "orders": [order.order_id],
                             "notes": ["1 order filled", "1 proposal executed"]}
