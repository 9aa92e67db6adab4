"""The ledger commands' ``--as-of``: a day written YYYY-MM-DD, from 1900 to today, the rule the API and
the CSV imports apply (``engine_inputs.book_day_check``); anything else is a CommandError naming the
option, and nothing is applied or stored. (Before, any date was taken: 9999-12-30 let fills dated
then into the lots.)"""

from datetime import date, timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from rebalancing.engine_inputs import latest_book_day
from rebalancing.ledger.executions import executions_apply
from rebalancing.models import Execution, Reconciliation, TaxLot
from tenants.errors import ValidationFailed

from . import test_commands as commands
from .helpers import execution_csv, fill

orders = commands.orders  # released orders of the firm's book, to fill
run = commands.run

pytestmark = pytest.mark.django_db

LATER = [(latest_book_day() + timedelta(days=1)).isoformat(), "9999-12-30"]
NOT_DATES = ["2026-13-01", "20261120", "2026-W47-5", "yesterday", "٢٠٢٦-١١-٢٠", "２０２６-１１-２０"]


@pytest.fixture
def fills(orders, tmp_path):
    path = tmp_path / "fills.csv"
    path.write_bytes(execution_csv(fill("X-1", orders[0], 60, "100", date(2026, 11, 17))))
    return str(path)


@pytest.fixture
def positions(book, tmp_path):
    path = tmp_path / "positions.csv"
    path.write_text("account_number,lot_id,symbol,quantity,cost_basis,acquired\nA-1,A-1-L1,VTI,100,8000,2020-01-02\n")
    return str(path)


@pytest.mark.parametrize("as_of", LATER)
def test_import_executions_refuses_a_day_after_today_and_applies_nothing(firm_a, fills, as_of):
    with pytest.raises(CommandError, match=rf"The --as-of day must be from 1900-01-01 to today .*not {as_of}"):
        run("import_executions", fills, "--firm", firm_a.slug, "--as-of", as_of)

    assert not Execution.objects.exists()


@pytest.mark.parametrize("as_of", NOT_DATES)
def test_import_executions_refuses_what_is_not_a_day_written_yyyy_mm_dd(firm_a, fills, as_of):
    with pytest.raises(CommandError, match=rf"--as-of '{as_of}' is not a date; write YYYY-MM-DD"):
        run("import_executions", fills, "--firm", firm_a.slug, "--as-of", as_of)

    assert not Execution.objects.exists()


@pytest.mark.parametrize("as_of", LATER + NOT_DATES)
def test_reconcile_positions_refuses_a_day_after_today_or_not_a_day_and_stores_nothing(firm_a, book, positions, as_of):
    lots_before = TaxLot.objects.count()

    with pytest.raises(CommandError, match="--as-of"):
        run("reconcile_positions", positions, "--firm", firm_a.slug, "--as-of", as_of)

    assert not Reconciliation.objects.exists() and TaxLot.objects.count() == lots_before


def test_today_and_a_past_day_are_taken(firm_a, fills, positions):
    applied, _ = run("import_executions", fills, "--firm", firm_a.slug, "--as-of", "2026-11-20")
    compared, _ = run("reconcile_positions", positions, "--firm", firm_a.slug, "--as-of",
                      timezone.localdate().isoformat())

    assert "1 created" in applied and "reconciliation" in compared


def test_the_service_itself_refuses_a_later_day_for_every_caller(firm_a, orders):
    with pytest.raises(ValidationFailed, match="day the file is read on"):
        executions_apply(records=[], actor="test", as_of=date(9999, 12, 30))
