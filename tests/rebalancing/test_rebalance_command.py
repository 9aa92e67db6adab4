import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun

from .book import make_book

pytestmark = pytest.mark.django_db


def _runs(firm) -> set[int]:
    """The firm's runs now. Firms A and B are committed for the whole session and shared with tests
    that drive real worker processes in them, so a run committed there may already stand (seen once
    in CI): the command's own are the new ones."""
    with tenant_context(firm):
        return set(RebalanceRun.objects.values_list("pk", flat=True))


def test_an_operator_starts_a_run_in_every_active_firm(firm_a, firm_b, capsys):
    for firm in (firm_a, firm_b):
        with tenant_context(firm):
            make_book(2)
    before = {firm.pk: _runs(firm) for firm in (firm_a, firm_b)}

    call_command("rebalance", "--all-firms")

    out = capsys.readouterr().out
    for firm in (firm_a, firm_b):
        with tenant_context(firm):
            run = RebalanceRun.objects.exclude(pk__in=before[firm.pk]).get()
            assert (run.total, run.scope, run.started_by_label) == (2, {"firm": True}, "manage.py rebalance")
        assert f"{firm.slug}: run {run.pk} over 2 accounts" in out


def test_a_run_for_named_accounts_of_one_firm(firm_a, firm_b):
    with tenant_context(firm_a):
        book = make_book(3)
    before_a, before_b = _runs(firm_a), _runs(firm_b)
    call_command("rebalance", "--firm", "firm-a", "--account", "T-001")
    with tenant_context(firm_a):
        run = RebalanceRun.objects.exclude(pk__in=before_a).get()
        assert run.scope == {"account_ids": [book["accounts"][1].pk]} and run.total == 1
    assert _runs(firm_b) == before_b


def test_unknown_firm_or_account_is_named(firm_a):
    with pytest.raises(CommandError, match="No active firm has the slug 'nope'"):
        call_command("rebalance", "--firm", "nope")
    with pytest.raises(CommandError, match="unknown account number\\(s\\): X-404"):
        call_command("rebalance", "--firm", "firm-a", "--account", "X-404")
