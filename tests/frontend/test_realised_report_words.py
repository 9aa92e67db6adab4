"""The realised-gains report says what each figure is: the part lost for good summed to the cent,
the totals' columns named so that adding them does not count the disallowed loss twice, and a
recalculated sale's figures in words, not field names (an auditor's round on the Acme demo)."""

import re
from datetime import date
from decimal import Decimal

import pytest

from rebalancing.models import RealisedLot, WashSaleRecalculation
from tests.frontend.test_ledger_pages import YEAR, ledger  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _lost_for_good_in_both_terms(account) -> None:
    """F-000's short-term BND loss: 1.25 of its 200 disallowed lost for good; its long-term VTI sale
    made a loss of 1,000 with 2.14 disallowed, all of it lost for good."""
    RealisedLot.objects.filter(account=account, term="short", disallowed_loss__gt=0).update(
        disallowed_permanently=Decimal("1.25"))
    vti = RealisedLot.objects.get(account=account, term="long")
    RealisedLot.objects.filter(pk=vti.pk).update(proceeds=vti.cost_basis - 1000, gain=Decimal(-1000),
                                                 disallowed_loss=Decimal("2.14"), disallowed_permanently=Decimal("2.14"))


def test_the_totals_tables_sum_the_lost_for_good_of_both_terms_to_the_cent(ledger, as_user):  # noqa: F811
    # Given an account with cents lost for good in both its short- and long-term sales
    _lost_for_good_in_both_terms(ledger["mine"])
    # When the realised report is shown
    page = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    # Then the headline and both totals tables (household and account) say 3.39, not 3.00
    assert "<dt>Of which lost for good</dt><dd>$3.39</dd>" in page
    cells = re.findall(r'data-testid="lost-for-good">([^<]*)<', page)
    assert cells.count("$3.39") == 2, cells
    assert "$3.00" not in cells


def test_the_totals_columns_say_the_losses_are_allowed_and_the_disallowed_is_not_in_the_net(ledger, as_user):  # noqa: F811
    page = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    head = page.split('<h2 id="hh-title">Per household</h2>')[1].split("</thead>")[0]
    assert head.count(">Losses allowed</th>") == 2 and head.count(">Disallowed (not in net)</th>") == 2
    assert ">Losses</th>" not in head and ">Disallowed</th>" not in head
    assert "each Net is Gains + Losses allowed" in page and "is not to be added again" in page
    # ...and so they are: F-000's short-term row (a BND loss of 500, 200 of it disallowed) reads
    # gains 0, losses allowed -300, disallowed 200, net -300
    row = page.split('<th scope="row">F-000<br>')[1].split("</tr>")[0]
    figures = re.findall(r'<td class="num">(.*?)</td>', row)[:4]
    assert [re.sub(r"<[^>]+>", "", f) for f in figures] == ["$0.00", "−$300.00", "$200.00", "−$300.00"]


def test_a_recalculated_sale_names_its_figures_in_words(ledger, as_user):  # noqa: F811
    # Given a late purchase that changed F-000's BND sale of 2026-10-01 after it was recorded
    mine = ledger["mine"]
    lot_id = RealisedLot.objects.get(account=mine, term="short").lot_id
    WashSaleRecalculation.objects.create(
        household=mine.household, group="us_agg", trigger="a purchase dated earlier arrived late",
        first_sold=date(2026, 10, 1), last_sold=date(2026, 10, 1), changes=[
            {"account": mine.custodian_number, "lot_id": lot_id, "sold": "2026-10-01", "field": name,
             "before": "0", "after": "200.00"}
            for name in ("disallowed_loss", "disallowed_permanently", "cost_basis", "gain")])
    # When the realised report is shown
    page = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    # Then the list of changes says what changed in words
    figures = re.findall(r'data-testid="recalculated-figure">([^<]*)<', page)
    assert {"Disallowed loss", "Lost for good", "Cost basis", "Gain or loss before the wash-sale adjustment"} <= set(figures)
    assert not any("_" in f or f in ("Disallowedloss", "Disallowedpermanently", "Costbasis") for f in figures)
    assert "Disallowedloss" not in page and "Disallowedpermanently" not in page
