"""A lots file (or the custodian's lots accepted) that changes an account's lots supersedes the
account's open proposals - approved ones too: they were solved on the lots as they were. A
withdrawal's sales wait for a decision; an account whose lots the file leaves as they are keeps its
proposals; the import's summary says how many gave way."""

import io
from datetime import date

import pytest

from rebalancing.imports import lots_import
from rebalancing.models import Proposal, RebalanceRun

from ..rebalancing.book import AS_OF, make_account
from ..rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db

S = Proposal.Status


def lots_file(*lines: str) -> io.BytesIO:
    return io.BytesIO(("account_number,lot_id,symbol,quantity,cost_basis,acquired\n" + "\n".join(lines) + "\n").encode())


def test_a_lots_file_that_changes_an_accounts_lots_supersedes_its_open_proposals(book):
    changed, same = book["account"], make_account("A-2", model=book["model"], holdings=[
        ("VTI", 10, 900, date(2020, 1, 2))])
    approved = make_proposal(changed, status=S.APPROVED)
    pending = make_proposal(changed, status=S.PENDING)
    withdrawal = make_proposal(changed, status=S.PENDING)
    RebalanceRun.objects.filter(pk=withdrawal.run_id).update(kind=RebalanceRun.Kind.CASH_FLOW)
    untouched = make_proposal(same, status=S.PENDING)

    summary = lots_import(source=lots_file(
        "A-1,A-1-L1,VTI,100,8000,2020-01-02",  # A-1-L2 (50 VTI) sold at the custodian: gone from the file
        "A-2,A-2-L1,VTI,10,900,2020-01-02",  # as it was
    ), as_of=AS_OF)

    statuses = dict(Proposal.objects.values_list("pk", "status"))
    assert (statuses[approved.pk], statuses[pending.pk]) == (S.SUPERSEDED, S.SUPERSEDED)
    assert (statuses[withdrawal.pk], statuses[untouched.pk]) == (S.PENDING, S.PENDING)
    assert "2 open proposals of accounts whose lots changed superseded: rebalance them again" in str(summary)


def test_a_lots_file_that_changes_nothing_supersedes_nothing(book):
    proposal = make_proposal(book["account"], status=S.APPROVED)

    summary = lots_import(source=lots_file("A-1,A-1-L1,VTI,100,8000,2020-01-02", "A-1,A-1-L2,VTI,50,6000,2026-06-01"),
                          as_of=AS_OF)

    assert Proposal.objects.get(pk=proposal.pk).status == S.APPROVED
    assert "superseded" not in str(summary)
