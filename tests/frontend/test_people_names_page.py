"""The people page refuses what tenants.people refuses, saying so where the change was made: a name
with a character that cannot be seen (invited or changed), and a person left with no role ticked."""

import re

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


def _row(page: str, user) -> str:
    return page.split(f'<input type="hidden" name="user" value="{user.pk}">', 1)[1].split("</tr>", 1)[0]


def test_an_invitation_with_a_bell_in_the_name_is_refused_at_the_top(people, as_user, firm_a):
    page = as_user("admin").post("/people/", {"action": "invite", "email": "new@pages.example", "first_name": "A\x07nn",
                                              "last_name": "Lee", "role": [FirmRole.ADVISOR]})
    assert page.status_code == 400
    assert ("The first name of new@pages.example contains a control character (U+0007) at position 2, which cannot "
            "be seen; remove it.") in page.content.decode()
    with tenant_context(firm_a):
        assert not get_user_model().objects.filter(username="new@pages.example").exists()


def test_a_name_with_a_right_to_left_override_is_refused_on_the_persons_row(people, as_user, firm_a):
    advisor = people["advisor"]
    page = as_user("admin").post("/people/", {"action": "name", "user": advisor.pk, "first_name": "Advisor",
                                              "last_name": "\u202eeeL"})
    assert page.status_code == 400
    assert re.search(r'<div class="error" role="alert">The last name of advisor@pages.example contains right-to-left '
                     r"override \(U\+202E\) at position 1", _row(page.content.decode(), advisor))
    with tenant_context(firm_a):
        advisor.refresh_from_db()
        assert advisor.last_name == "" and not AuditEvent.objects.filter(action="user.name").exists()


def test_unticking_every_role_is_refused_on_the_persons_row(people, as_user, firm_a):
    advisor = people["advisor"]
    page = as_user("admin").post("/people/", {"action": "roles", "user": advisor.pk})
    assert page.status_code == 400
    assert ('<div class="error" role="alert">Choose at least one role for advisor@pages.example; to stop them signing '
            "in, deactivate them instead.</div>") in _row(page.content.decode(), advisor)
    with tenant_context(firm_a):
        assert list(advisor.groups.values_list("name", flat=True)) == [FirmRole.ADVISOR]
