"""The account page's drift alert links the proposal that stands for the account, not one that
was superseded (tests/rebalancing/test_drift_alert_follows_superseded.py)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.services.proposals import S, proposals_supersede
from tests.rebalancing.book import make_book
from tests.rebalancing.test_drift_alert_follows_superseded import drifted
from tests.rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db


def test_the_account_page_links_the_current_proposal(firm_a, as_user):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        first, _ = drifted(account)
        later = make_proposal(account, status=S.PENDING)
        proposals_supersede(account_ids=[account.pk], by_run_id=later.run_id)
    page = as_user("pm").get(f"/accounts/{account.pk}/").content.decode()
    assert f"proposal #{later.pk}</a>" in page and f"proposal #{first.pk}</a>" not in page
