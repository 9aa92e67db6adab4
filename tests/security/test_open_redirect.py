"""Attack 8: a form's ``next`` sends the browser only to a path on this host."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db

EVIL = ["https://evil.example/", "//evil.example/", "http://firm-a.localhost.evil.example/", "javascript:alert(1)",
        "/\\evil.example", "\\\\evil.example", "https:/evil.example", " //evil.example"]


@pytest.fixture
def proposal(book, firm_a):
    with tenant_context(firm_a):
        return Proposal.objects.get(account=book["mine"][0])


@pytest.mark.parametrize("target", EVIL)
def test_a_decision_never_redirects_off_the_host(as_user, proposal, target):
    response = as_user("advisor").post(f"/proposals/{proposal.pk}/decide/",
                                       {"action": "reject", "comment": "no", "next": target})

    assert response.status_code == 302
    assert response["Location"] == f"/proposals/{proposal.pk}/"


def test_a_decision_follows_a_path_on_this_host(as_user, proposal):
    response = as_user("advisor").post(f"/proposals/{proposal.pk}/decide/",
                                       {"action": "reject", "comment": "no", "next": "/approvals/?view=all"})

    assert response.status_code == 302 and response["Location"] == "/approvals/?view=all"


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_never_redirects_off_the_host(firm_a, firm_user, client_for, target):
    from tests.conftest import PASSWORD

    user = firm_user(firm_a, "next@firm-a.example")
    response = client_for(firm_a).post(f"/accounts/login/?next={target}",
                                       {"username": user.username, "password": PASSWORD, "next": target})

    assert response.status_code == 302 and response["Location"] == "/"
