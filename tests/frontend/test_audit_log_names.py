"""The audit log names who acted as the other pages do (a proposal's history): the person's name,
with the user name the record keeps beneath it; a user name alone where there is no name."""

import re

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _who_cells(page: str) -> list[str]:
    rows = re.findall(r"<tr><td class=\"nowrap\">.*?</td><td>(.*?)</td>", page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in rows]


def test_the_audit_log_shows_the_actors_name_with_the_user_name_beneath(book, people, as_user, firm_a):
    with tenant_context(firm_a):
        pm = people["pm"]
        pm.first_name, pm.last_name = "Petra", "Manager"
        pm.save(update_fields=["first_name", "last_name"])
        nameless = people["admin"]
        nameless.first_name = nameless.last_name = ""
        nameless.save(update_fields=["first_name", "last_name"])
        audit_record(actor=pm, action="model.create", obj=book["model"], after={"code": "x"})
        audit_record(actor=nameless, action="model.create", obj=book["model"], after={"code": "y"})

    page = as_user("compliance").get("/audit/", {"action": "model.create"}).content.decode()

    cells = _who_cells(page)
    assert f"Petra Manager {pm.username} User" in cells
    assert f"{nameless.username} User" in cells
