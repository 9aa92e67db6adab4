"""The PATCH households/{id}/tax/ example of docs/api.md is accepted as written, the household's joint
account as "<account id>": an example must not ask what the same paragraph refuses."""

import json
import re
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from ..rebalancing.household_book import make_unit_household
from ..rebalancing.workflow import policy
from .conftest import API

pytestmark = pytest.mark.django_db

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _documented_example() -> dict:
    found = re.search(r"PATCH `\{id\}/tax/` \(`(\{.*?\})`", API_MD.read_text())
    assert found, "docs/api.md has no PATCH {id}/tax/ example"
    return json.loads(found.group(1))


def test_the_documented_household_tax_example_is_accepted(firm_a, people, client_for):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        made = make_unit_household(advisor=people["advisor"])
    example = _documented_example()
    example["spouses"] = {str(made["joint"].pk) if k == "<account id>" else k: v
                          for k, v in example["spouses"].items()}
    answer = client_for(firm_a, people["advisor"]).patch(
        f"{API}/households/{made['household'].pk}/tax/", example, content_type="application/json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["filing_status"] == example["filing_status"]
