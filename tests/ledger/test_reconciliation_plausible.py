"""A position file is held to the lots file's plausibility bounds: accepting its comparison writes its
lots as a lots file would, so a value no client account holds is refused at the import, naming the
line, the column and the value, and nothing is stored (docs/csv-formats.md "Plausibility")."""

from datetime import date

import pytest

from rebalancing.imports import ImportRejected
from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import Price, Reconciliation, ReconciliationAccount, TaxLot

from ..rebalancing.test_csv_import import problems_of

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
HEADER = "account_number,lot_id,symbol,quantity,cost_basis,acquired\n"


def lots_stored() -> set:
    return set(TaxLot.objects.values_list("account__custodian_number", "lot_id", "quantity", "cost_basis"))


@pytest.mark.parametrize(("row", "column", "words"), [
    ("A-1,A-1-L1,BND,5000000000,8000,2020-01-02", "quantity",
     "5000000000 is more than any client account holds: at most 1,000,000,000 shares in one lot"),
    ("A-1,A-1-L1,VTI,100,200000000000,2020-01-02", "cost_basis",
     "200000000000 is more than any client account holds: at most 100,000,000,000 dollars of cost in one lot"),
    # 900 million shares is under the share bound, but worth more than any account at VTI's $1,000
    ("A-1,A-1-L1,VTI,900000000,8000,2020-01-02", "quantity",
     "900,000,000 shares of VTI at its latest price, $1,000, are worth $900,000,000,000"),
])
def test_a_value_no_client_account_holds_is_refused_naming_it_and_nothing_is_stored(book, row, column, words):
    Price.objects.filter(security__symbol="VTI", date=AS_OF).update(close=1000)
    before = lots_stored()

    with pytest.raises(ImportRejected) as excinfo:
        reconciliation_import(source=(HEADER + "A-1,A-1-L2,VTI,50,6000,2026-06-01\n" + row + "\n").encode(),
                              actor="custodian feed", as_of=AS_OF)

    [(line, named, problem)] = problems_of(excinfo)
    assert (line, named) == (3, column)
    assert words in problem
    assert not Reconciliation.objects.exists() and not ReconciliationAccount.objects.exists()
    assert lots_stored() == before
