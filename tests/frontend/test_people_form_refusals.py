"""People and roles: a refused change of one person's roles comes back with the ticks as made, on that
person's row with the reason beside them; before, the row showed the stored roles (the change looked
lost) and the invite form at the top took the ticks instead."""

import re

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


def _row(page: str, user) -> str:
    return re.search(rf'<input type="hidden" name="user" value="{user.pk}">.*?</form>', page, re.S).group(0)


def test_the_last_admins_roles_refused_come_back_as_ticked_on_their_row(people, as_user, firm_a):
    # Given the firm's only active admin, who ticks portfolio manager and unticks admin on their own row
    from django.contrib.auth import get_user_model

    admin = people["admin"]
    with tenant_context(firm_a):
        get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN).exclude(pk=admin.pk).update(is_active=False)
    page = as_user("admin").post("/people/", {"action": "roles", "user": admin.pk,
                                              "role": [FirmRole.PORTFOLIO_MANAGER]})

    # Then nothing changes...
    assert page.status_code == 400
    with tenant_context(firm_a):
        assert set(admin.groups.values_list("name", flat=True)) == {FirmRole.FIRM_ADMIN}
        assert not AuditEvent.objects.filter(action__startswith="user.role").exists()
    # ...their row shows the ticks as made, with the reason beside them...
    html = page.content.decode()
    row = _row(html, admin)
    assert f'value="{FirmRole.PORTFOLIO_MANAGER}" checked' in row
    assert f'value="{FirmRole.FIRM_ADMIN}" checked' not in row
    assert re.search(r'<div class="error" role="alert">[^<]*is the firm&#x27;s last active admin', row)
    # ...another person's row keeps their stored roles, and the invite form has no ticks
    assert f'value="{FirmRole.ADVISOR}" checked' in _row(html, people["advisor"])
    invite = html.split('value="invite"')[1].split("</form>")[0]
    assert "checked" not in invite
