"""The accounts page's and the run form's Advisor choices keep a deactivated advisor and one still
invited (their households stay theirs, so filtering by them still finds accounts) but say so."""

import re

import pytest
from django_tenants.utils import tenant_context

from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


def _options(page: str, select_id: str) -> dict[str, str]:
    select = re.search(rf'<select id="{select_id}".*?</select>', page, re.S).group(0)
    return {value: words.strip() for value, words in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select)}


def test_a_deactivated_and_an_invited_advisor_are_marked_in_the_advisor_choices(firm_a, book, as_user, people,
                                                                             firm_user):
    # Given the colleague deactivated (still advising two households) and an advisor invited, no password yet
    invited = firm_user(firm_a, "bb@pages.example", FirmRole.ADVISOR, first_name="B", last_name="B")
    with tenant_context(firm_a):
        invited.set_unusable_password()
        invited.save()
        people["colleague"].is_active = False
        people["colleague"].save()
    admin = as_user("admin")

    # When a firm admin opens the accounts page and the runs page
    accounts = _options(admin.get("/accounts/").content.decode(), "f-advisor")
    runs = _options(admin.get("/runs/").content.decode(), "r-advisor")

    # Then each advisor is listed (with their e-mail: two may share a name), the ones who cannot act now marked
    for listed in (accounts, runs):
        assert listed[str(people["advisor"].pk)] == "Advisor (advisor@pages.example)"
        assert listed[str(people["colleague"].pk)] == "Colleague (colleague@pages.example) (deactivated)"
        assert listed[str(invited.pk)] == "B B (bb@pages.example) (invited)"
    # And filtering by the deactivated advisor still finds their accounts
    found = admin.get("/accounts/", {"advisor": people["colleague"].pk}).content.decode()
    assert all(a.custodian_number in found for a in book["theirs"])
