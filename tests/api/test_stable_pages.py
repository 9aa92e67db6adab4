"""Walking a list page by page returns every row once: an integration syncing households or
templates by paging must not see some twice and miss others because their names tie."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Household, ParameterTemplate

from .conftest import API

pytestmark = pytest.mark.django_db


def _walk(client, path: str) -> tuple[list[int], int]:
    ids, page = [], 1
    while True:
        body = client.get(f"{API}/{path}/", {"page": page, "page_size": 7}).json()
        ids += [row["id"] for row in body["results"]]
        if not body["next"]:
            return ids, body["count"]
        page += 1


def test_rows_whose_sort_key_ties_come_once_each_across_pages(firm_a, people, client_for):
    with tenant_context(firm_a):
        Household.objects.bulk_create([Household(name="Smith family", external_id=f"HH-S{i}") for i in range(300)])
        ParameterTemplate.objects.bulk_create(
            [ParameterTemplate(code=f"t-{i}", name="Standard", parameters={}) for i in range(120)])
    client = client_for(firm_a, people["pm"])
    for path in ("households", "templates"):
        ids, count = _walk(client, path)
        assert len(ids) == count and len(set(ids)) == count, path
