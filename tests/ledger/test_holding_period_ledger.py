"""The ledger's terms on the dates where readings part (Pub. 550; Rev. Rul. 66-7: counted in
calendar months from the day after the purchase; bought on the last day of a month, long-term from
the first day of the thirteenth month after it), through the real executions import, and a wash
sale's replacement of a long-held lot sold long-term at once (IRC §1223(3))."""

from datetime import date

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.models import RealisedLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db

CASES = [  # acquired, sold, term
    (date(2023, 2, 28), date(2024, 2, 29), "short"),  # the twelfth month ends on 29 February
    (date(2023, 2, 28), date(2024, 3, 1), "long"),
    (date(2024, 2, 29), date(2025, 2, 28), "short"),
    (date(2024, 2, 29), date(2025, 3, 1), "long"),
    (date(2023, 1, 31), date(2024, 1, 31), "short"),
    (date(2023, 1, 31), date(2024, 2, 1), "long"),
]


@pytest.mark.parametrize(("acquired", "sold", "expected"), CASES)
def test_a_sale_is_recorded_with_the_term_of_its_holding_period(book, pm, acquired, sold, expected):
    account = make_account("HP-1", model=book["model"], holdings=[("VTI", 10, 900, acquired)])
    [order] = release(account, [sell("VTI", 10, 100.0, [("HP-1-L1", 10)])], pm=pm, as_of=sold)
    executions_import(source=execution_csv(fill("HP-F1", order, 10, "100", sold)), actor="custodian", as_of=sold)
    [realised] = RealisedLot.objects.filter(account=account)
    assert (realised.term, realised.gain) == (expected, 100)


def test_the_replacement_of_a_long_held_lot_is_long_term_at_once(book, pm):
    # 100 VTI bought 2020-01-02 at 80; 50 sold at 70 on 2026-06-01 (a 500 loss), 50 bought back at
    # 72 on 2026-06-10 and sold at 75 on 2026-06-20, ten days after their purchase
    account = make_account("HP-2", model=book["model"], holdings=[("VTI", 100, 8000, date(2020, 1, 2))])
    [sale] = release(account, [sell("VTI", 50, 70.0, [("HP-2-L1", 50)])], pm=pm, as_of=date(2026, 6, 1))
    [back] = release(account, [buy("VTI", 50, 72.0)], pm=pm, as_of=date(2026, 6, 10))
    executions_import(source=execution_csv(fill("RP-S", sale, 50, "70", date(2026, 6, 1)),
                                           fill("RP-B", back, 50, "72", date(2026, 6, 10))),
                      actor="custodian", as_of=date(2026, 6, 10))
    [again] = release(account, [sell("VTI", 50, 75.0, [("RP-B", 50)])], pm=pm, as_of=date(2026, 6, 20))
    executions_import(source=execution_csv(fill("RP-S2", again, 50, "75", date(2026, 6, 20))), actor="custodian",
                      as_of=date(2026, 6, 20))
    first = RealisedLot.objects.get(execution__external_id="RP-S")
    second = RealisedLot.objects.get(execution__external_id="RP-S2")
    assert (first.gain, first.disallowed_loss, first.term) == (-500, 500, "long")
    # its basis 3,600 + 500; its holding period starts 2020-01-02 + 9 days (IRC §1223(3))
    assert (second.cost_basis, second.gain, second.term) == (4100, -350, "long")
    assert second.acquired == date(2020, 1, 11)
