"""A webhook endpoint's event types are each given once: a repeat is refused by name, as an API key's
repeated scope is, not silently folded into one."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookEndpoint

from .conftest import API, error_of
from .test_webhooks_api import BODY

pytestmark = pytest.mark.django_db


def test_an_event_type_given_twice_is_refused_naming_it_and_nothing_is_registered(firm_a, client_for, people):
    client = client_for(firm_a, people["admin"])
    twice = [BODY["event_types"][0], *BODY["event_types"]]

    created = client.post(f"{API}/webhook-endpoints/", BODY | {"event_types": twice}, content_type="application/json")

    assert created.status_code == 400, created.content
    assert error_of(created)["detail"]["fields"] == {
        "event_types": [f"{twice[0]} is given 2 times; give each event type once."]}
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.exists()

    made = client.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json")
    assert made.status_code == 201, made.content
    changed = client.patch(f"{API}/webhook-endpoints/{made.json()['id']}/", {"event_types": twice},
                           content_type="application/json")
    assert changed.status_code == 400 and "event_types" in error_of(changed)["detail"]["fields"]


def test_the_backtest_request_schema_states_the_ranges_the_server_requires():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="config.urls").get_schema(request=None, public=True)
    properties = schema["components"]["schemas"]["BacktestStartRequest"]["properties"]

    assert (properties["amount"]["minimum"], properties["amount"]["maximum"]) == (1000, 100000000000)
    for rate in ("short_term_rate", "long_term_rate"):
        assert (properties[rate]["minimum"], properties[rate]["maximum"]) == (0, 1)
        assert not properties[rate]["pattern"].startswith("^-")
