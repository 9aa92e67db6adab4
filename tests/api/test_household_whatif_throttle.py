"""A household's what-if is a solve like POST whatif/: counted in the same bucket, API_RATE_WHATIF
(docs/api.md, Rates), not at the key's ordinary rate."""

import pytest
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import tenant_context

from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def test_the_household_what_if_is_in_the_what_if_bucket(firm_a, people, api_key):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        household = make_unit_household(advisor=people["advisor"])["household"]
    client = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=("read",)))
    rates = {"api_key": "100/min", "user": "100/min", "whatif": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        answers = [client.post(f"{API}/households/{household.pk}/what-if/", {}, content_type="application/json")
                   for _ in range(3)]
        listed = client.get(f"{API}/households/")  # the key's own rate: not spent by the what-ifs

    assert [a.status_code for a in answers] == [200, 200, 429], [a.content for a in answers]
    assert error_of(answers[2])["code"] == "throttled" and answers[2].has_header("Retry-After")
    assert listed.status_code == 200
