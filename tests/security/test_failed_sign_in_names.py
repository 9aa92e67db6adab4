"""A failed sign-in's audit row keeps the user name as typed only when it is a user's or is written as
an e-mail address (every user name here is one): anything else is most often a password typed into
the user-name box, and the audit trail compliance reads must not keep it - only its length."""

import pytest
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole
from tenants.security.sign_ins import _as_typed
from tests.conftest import host_of

from .test_sign_in_lockout import _sign_in

pytestmark = pytest.mark.django_db


def test_a_password_typed_as_the_user_name_is_not_kept(firm_a, firm_user):
    user = firm_user(firm_a, "ann@names.example", FirmRole.ADVISOR)
    host = host_of(firm_a)
    _sign_in(host, "Tr0ub4dor&3-secret", "whatever")
    _sign_in(host, "nobody@names.example", "whatever")
    _sign_in(host, user.username, "wrong")
    with tenant_context(firm_a):
        actors = list(AuditEvent.objects.filter(action="auth.sign_in_failed").order_by("id")
                      .values_list("actor", flat=True))[-3:]
    assert actors == ["(not a user name: 18 characters)", "nobody@names.example", "ann@names.example"]
    assert not AuditEvent.objects.filter(actor__contains="Tr0ub4dor").exists()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(max_size=40) | st.from_regex(r"[a-z. @]{1,8}@[a-z. @]{0,8}", fullmatch=True))
def test_what_is_kept_matches_the_rule_written_plainly(typed):
    # The rule, plainly: kept when it has exactly one "@", text before it, a dot after it that is
    # neither the domain's first nor its last character, and no space; else only its length (a known
    # user's own name is always kept: the test above).
    local, _, domain = typed.partition("@")
    email_like = (typed.count("@") == 1 and local != "" and not any(c.isspace() for c in typed)
                  and any(domain[i] == "." for i in range(1, len(domain) - 1)))
    shown = _as_typed(typed, None)
    if not typed:
        assert shown == "(no user name)"
    elif email_like:
        assert shown == typed
    else:
        assert shown == f"(not a user name: {len(typed)} characters)"
