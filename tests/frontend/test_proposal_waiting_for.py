"""A pending proposal opened by someone who may read it but not decide it (a compliance officer, on
one within policy) says whose approval it waits for, instead of showing no decision and no reason."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db


def _waiting(page: str) -> str:
    found = re.search(r'<p class="callout" data-testid="waiting-for">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def test_compliance_reading_a_proposal_it_may_not_decide_is_told_who_decides(book, people, as_user, firm_a):
    # Given a pending proposal of the advisor's household that compliance does not review
    with tenant_context(firm_a):
        proposal = (Proposal.objects.filter(status=Proposal.Status.PENDING, requires_compliance=False,
                                            account__in=book["mine"])
                    .select_related("account").first())
        assert proposal is not None
        advisor = people["advisor"].get_full_name() or people["advisor"].get_username()

    # When compliance opens it
    page = as_user("compliance").get(f"/proposals/{proposal.pk}/").content.decode()

    # Then the page names who it waits for, and offers no decision
    assert f"Waiting for its advisor&#x27;s approval ({advisor}); it is not yours to decide." in page
    assert 'id="decide-h"' not in page


def test_the_advisor_who_decides_it_sees_the_decision_not_the_note(book, people, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(status=Proposal.Status.PENDING,
                                           account__in=book["mine"]).first()

    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()

    assert 'id="decide-h"' in page and _waiting(page) == ""
