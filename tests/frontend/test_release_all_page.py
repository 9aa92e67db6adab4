"""The Release page's "Release all": a portfolio manager releases every approved proposal in one
decision, follows the worker's progress, and reads what was refused and why."""

import re
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ReleaseBatch
from rebalancing.services.release_batches import release_batch_execute
from tests.rebalancing.book import make_book
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_portfolio_manager_releases_every_approved_proposal_and_follows_it(firm_a, as_user, people,
                                                                            django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        accounts = make_book(4)["accounts"]
        fresh = [make_proposal(a, status=Proposal.Status.APPROVED) for a in accounts[:3]]
        stale = make_proposal(accounts[3], status=Proposal.Status.APPROVED, as_of=date(2010, 1, 4))
    pm = as_user("pm")
    page = text(pm.get("/proposals/?status=approved"))
    assert "Release all 4 approved proposals</button>" in page and 'action="/proposals/release-all/"' in page
    assert as_user("advisor").post("/proposals/release-all/").status_code == 403

    with django_capture_on_commit_callbacks() as queued:
        asked = text(pm.post("/proposals/release-all/", {"comment": "month end"}, follow=True))

    assert len(queued) == 1 and "Releasing all 4 approved proposals: a worker releases them" in asked
    assert 'data-status="queued"' in asked and "0 of 4" in asked and 'hx-trigger="every 2s"' in asked
    assert "Release all 4 approved proposals</button>" not in asked  # not twice while one is under way
    again = text(pm.post("/proposals/release-all/", follow=True))
    assert "A release of every approved proposal is already under way (0 of 4 done)" in again

    with tenant_context(firm_a):
        release_batch_execute(batch_id=ReleaseBatch.objects.get().pk)
    poll = pm.get("/proposals/?part=release-batch", HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true" and 'data-status="completed"' in text(poll)

    for role in ("advisor", "compliance"):  # it names every account's proposals: for those who release only
        assert 'id="release-batch"' not in text(as_user(role).get("/proposals/?status=approved"))
        assert 'id="release-batch"' not in text(as_user(role).get("/proposals/?part=release-batch",
                                                                    HTTP_HX_REQUEST="true"))
    done = text(pm.get("/proposals/?status=approved"))
    assert "3 of 4 released</strong>, 1 refused" in done and 'hx-trigger' not in done.split('id="release-batch"')[1][:300]
    assert f'href="/proposals/{stale.pk}/">#{stale.pk} {accounts[3].custodian_number}</a>: The proposal was priced on ' \
           "2010-01-04 and has expired" in done
    assert "No approved proposal." in done
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(pk__in=[p.pk for p in fresh]).values_list("status", flat=True)) == {
            Proposal.Status.EXECUTED}  # nothing to fill: released and done
