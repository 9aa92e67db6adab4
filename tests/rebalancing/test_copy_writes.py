"""Bulk writes through COPY: large values are stored lz4-compressed where the server has lz4; rows
hold the values Django would send."""

import warnings
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import tenant_context
from psycopg.types.json import Jsonb

from rebalancing.copy_writes import _row, _sent_as_is, _value, objects_insert_by_copy
from rebalancing.models import Alert, Proposal, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def _server_has_lz4() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        return bool(cursor.fetchone()[0])


@pytest.mark.parametrize("ignore_conflicts", [False, True])
def test_a_large_proposal_is_stored_lz4_compressed(firm_a, ignore_conflicts):
    if not _server_has_lz4():
        pytest.skip("this PostgreSQL was built without lz4")
    with tenant_context(firm_a):
        make_book(1)
        first = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(first):
            run_process_chunk(run_id=first.pk, account_ids=chunk)
        proposal = Proposal.objects.get(run=first)
        second = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        proposal.pk, proposal.run = None, second
        proposal.result = {**proposal.result, "warnings": [f"line {i} of a long explanation" for i in range(5_000)]}

        objects_insert_by_copy([proposal], ignore_conflicts=ignore_conflicts)

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_column_compression(result), octet_length(result::text) FROM rebalancing_proposal "
                "WHERE run_id = %s",
                [second.pk],
            )
            compression, size = cursor.fetchone()
        assert compression == "lz4" and size > 100_000


def test_a_copy_row_holds_the_values_django_would_send(firm_a):
    # Given a run's proposal and outcome as a chunk wrote them (ids, text, floats, aware datetimes,
    # decimals, JSON), an alert, and a proposal given a naive datetime
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        naive = Proposal.objects.get(run=run)
        naive.status_changed_at = datetime(2026, 11, 20, 9, 30)
        objects = [Proposal.objects.get(run=run), RunOutcome.objects.get(run=run), naive,
                   Alert(run=run, account=account, kind=Alert.Kind.DRIFT, message="drift 7.0% is beyond its band")]
        rows = []
        for obj in objects:
            fields = [f for f in type(obj)._meta.concrete_fields if not f.generated]
            # When its COPY row is made
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # Django's, for the naive datetime
                row = _row([(f, _sent_as_is(f)) for f in fields], obj)
                expected = [_value(f, obj) for f in fields]
            rows.append(dict(zip([f.name for f in fields], row, strict=True)))
            # Then each value is what the field's get_db_prep_save gives
            plain = [[v.obj if isinstance(v, Jsonb) else v for v in values] for values in (row, expected)]
            assert plain[0] == plain[1]
    # (the naive datetime made aware, as Django makes it)
    assert rows[2]["status_changed_at"].tzinfo is not None and isinstance(rows[0]["result"], str)


@pytest.mark.parametrize("amount", [0.1 + 0.2, 1234.565, -0.0, 1e-12, 12345678901234.567, Decimal("12.345"),
                                    Decimal("-0.00"), 7])
def test_a_copy_row_holds_the_amounts_and_choices_django_would_send(amount):
    # Given an unsaved proposal as a run builds it: amounts as floats or decimals, its status a choice
    proposal = Proposal(estimated_tax=amount, harvested_losses=amount, status=Proposal.Status.PENDING)
    fields = [Proposal._meta.get_field(name) for name in ("estimated_tax", "harvested_losses", "status")]
    # When its COPY row is made
    row = _row([(f, _sent_as_is(f)) for f in fields], proposal)
    # Then each value is the one the field's get_db_prep_save gives, to its type and digits
    expected = [_value(f, proposal) for f in fields]
    assert [(type(v), str(v)) for v in row] == [(type(v), str(v)) for v in expected]


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_a_copy_row_refuses_an_amount_django_refuses(amount):
    proposal = Proposal(harvested_losses=amount)
    field = Proposal._meta.get_field("harvested_losses")
    with pytest.raises(ValidationError):
        _value(field, proposal)
    with pytest.raises(ValidationError):
        _row([(field, _sent_as_is(field))], proposal)
