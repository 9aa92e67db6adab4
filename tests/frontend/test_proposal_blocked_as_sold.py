"""A proposal's wash-sale block counts 30 days from its run's day; once released, the window runs
from the day its sale went out (its fill, IRC §1091): the page says so when that is later, so no one
buys the name back on a day the rule still forbids."""

import re
from datetime import date

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Order
from tests.ledger.helpers import execution_csv, fill, release, sell
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _released_with_a_block(account, pm):
    """Run and released on 2026-10-20: sells 50 VTI at a loss, and VTI's buy waits for 2026-11-20."""
    [order] = release(account, [sell("VTI", 50, 100.0, [(f"{account.custodian_number}-L1", 50)])], pm=pm,
                      as_of=date(2026, 10, 20))
    proposal = order.proposal
    proposal.result = {**proposal.result, "blocked_buys": [{
        "symbol": "VTI", "shortfall": 5000.0, "sale_symbol": "VTI", "sale_date": "2026-10-20",
        "sale_account_id": account.custodian_number, "sale_loss": 900.0, "sale_in_proposal": True,
        "buyable_on": "2026-11-20"}]}
    proposal.save(update_fields=["result"])
    return order


def test_a_sale_filled_after_the_runs_day_moves_the_day_the_name_is_buyable_again(book, people, as_user):
    order = _released_with_a_block(book["mine"][0], people["pm"])
    executions_import(source=execution_csv(fill("S-LATE", order, 50, "100", date(2026, 10, 23))), actor="test",
                      as_of=AS_OF)

    page = text(as_user("advisor").get(f"/proposals/{order.proposal_id}/"))

    assert ("this proposal sells VTI at a loss; buyable again on <strong>2026-11-20</strong> as planned on the run's "
            "day; the sale went out on 2026-10-23, so not before <strong>2026-11-23</strong>.") in page


def test_a_sale_of_the_runs_own_day_leaves_the_planned_day(book, people, as_user):
    order = _released_with_a_block(book["mine"][0], people["pm"])  # released, not filled yet: its day is the run's
    assert Order.objects.get(pk=order.pk).released_on == date(2026, 10, 20)

    page = text(as_user("advisor").get(f"/proposals/{order.proposal_id}/"))

    assert "buyable again on <strong>2026-11-20</strong>." in page and "went out on" not in page
