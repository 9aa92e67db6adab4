"""A run as of a past day loads the lots held now (run_start takes any day to today; a retried run keeps its
day). A lot bought after the run's day was handed to the engine as if held on it: its holding period and
wash-sale window counted from a day before its purchase (IRS Pub. 550: the holding period starts the day
after acquisition), a wrong tax figure in a proposal that looked fine. Such an account now fails in that run
naming the lot and its day; the run's other accounts are proposed as before."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.engine.request import EARLIEST_DAY
from rebalancing.engine_inputs import FIRST_BOOK_DAY, rebalance_inputs_load
from rebalancing.models import RunOutcome, Security, TaxLot
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def _lot(account, lot_id: str, symbol: str, acquired, quantity=10) -> TaxLot:
    return TaxLot.objects.create(account=account, lot_id=lot_id, security=Security.objects.get(symbol=symbol),
                                 quantity=Decimal(quantity), cost_basis=Decimal(quantity * 95), acquired=acquired)


def test_a_past_dated_run_fails_the_account_holding_a_lot_bought_after_its_day_and_proposes_the_others(firm_a):
    with tenant_context(firm_a):
        # given two drifted accounts, one of which bought VTI three days after the run's day
        book = make_book(2)
        plain, later = book["accounts"]
        _lot(later, "T-001-LATE", "VTI", AS_OF + timedelta(days=3))

        # when a run as of that past day works through them
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)

        # then that account fails naming the lot, its day and the run's; the other is proposed
        outcomes = {o.account_id: o for o in RunOutcome.objects.filter(run=run)}
    failed = outcomes[later.pk]
    assert (failed.outcome, failed.code) == (RunOutcome.Outcome.FAILED, "lot_after_as_of")
    assert "T-001-LATE" in failed.message and "2026-11-23" in failed.message and "2026-11-20" in failed.message
    assert failed.detail == {"lot": "T-001-LATE", "symbol": "VTI", "acquired": "2026-11-23", "as_of": "2026-11-20",
                             "lots_after": 1}
    assert outcomes[plain.pk].outcome == RunOutcome.Outcome.PROPOSED


def test_a_lot_bought_on_the_runs_day_is_held_on_it(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        _lot(account, "T-000-TODAY", "VTI", AS_OF)
        [inputs] = rebalance_inputs_load([account.pk], as_of=AS_OF)
    assert inputs.error is None
    assert "T-000-TODAY" in {lot.id for lot in inputs.request.account.lots}


def test_the_lot_named_against_a_plain_reading_over_random_books(firm_a):
    # A second, plain reading: the account fails iff a lot's day is after as_of, naming the earliest such
    # lot (by day, then by its row's order), and counting them all.
    rng = random.Random(1222)
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        for case in range(12):
            TaxLot.objects.filter(account=account).delete()
            lots = []
            for n in range(rng.randint(1, 6)):
                day = AS_OF + timedelta(days=rng.randint(-400, 10))
                lots.append(_lot(account, f"L{case}-{n}", rng.choice(["VTI", "BND", "VNQ"]), day))
            [inputs] = rebalance_inputs_load([account.pk], as_of=AS_OF)

            later = sorted((lot for lot in lots if lot.acquired > AS_OF), key=lambda lot: (lot.acquired, lot.pk))
            if not later:
                assert inputs.error is None, (case, inputs.error)
                continue
            assert inputs.request is None and inputs.error.code == "lot_after_as_of", case
            assert inputs.error.detail["lot"] == later[0].lot_id, case
            assert inputs.error.detail["acquired"] == later[0].acquired.isoformat(), case
            assert inputs.error.detail["lots_after"] == len(later), case
            assert f"as of {max(lot.acquired for lot in later)} or later" in inputs.error.message, case


def test_the_books_first_day_is_the_engines():
    # One home: a day the product accepts as a run's day is one the engine takes.
    assert FIRST_BOOK_DAY is EARLIEST_DAY
