"""The firm-wide harvest substitutes through the API: each security shows its substitute, and an
account's effective parameters name the firm list as the source of the pairs it gives."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rebalancing.services.substitutes import harvest_substitutes_set

from .conftest import API

pytestmark = pytest.mark.django_db


def test_securities_and_effective_parameters_show_the_firm_list(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    client.get(f"{API}/securities/")  # warm the session and the throttle
    with CaptureQueriesContext(connection) as before:
        client.get(f"{API}/securities/")
    with tenant_context(firm_a):
        harvest_substitutes_set(pairs={"VTI": "SCHB", "BND": "AGG"}, by=people["admin"])
    with CaptureQueriesContext(connection) as after:
        listed = client.get(f"{API}/securities/", {"page_size": 50}).json()["results"]

    assert {s["symbol"]: s["harvest_substitute"] for s in listed} == {
        "AGG": None, "BND": "AGG", "ITOT": None, "SCHB": None, "VNQ": None, "VTI": "SCHB"}
    assert len(after.captured_queries) == len(before.captured_queries)  # the substitutes come with the page
    answer = client.get(f"{API}/accounts/{book['own'].pk}/").json()
    leaves = {leaf["path"]: leaf for leaf in answer["effective_parameters"]["leaves"]}
    assert leaves["harvest.substitutes"] == {"path": "harvest.substitutes", "source": "firm",
                                             "value": {"BND": "AGG", "VTI": "SCHB"}}
