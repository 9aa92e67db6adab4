import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun

from .book import make_book

pytestmark = pytest.mark.django_db


def test_an_operator_starts_a_run_in_every_active_firm(firm_a, firm_b, capsys):
    for firm in (firm_a, firm_b):
        with tenant_context(firm):
            make_book(2)

    call_command("rebalance", "--all-firms")

    out = capsys.readouterr().out
    for firm in (firm_a, firm_b):
        with tenant_context(firm):
            run = RebalanceRun.objects.get()
            assert (run.total, run.scope, run.started_by_label) == (2, {"firm": True}, "manage.py rebalance")
        assert f"{firm.slug}: run {run.pk} over 2 accounts" in out


def test_a_run_for_named_accounts_of_one_firm(firm_a, firm_b):
    with tenant_context(firm_a):
        book = make_book(3)
    call_command("rebalance", "--firm", "firm-a", "--account", "T-001")
    with tenant_context(firm_a):
        run = RebalanceRun.objects.get()
        assert run.scope == {"account_ids": [book["accounts"][1].pk]} and run.total == 1
    with tenant_context(firm_b):
        assert not RebalanceRun.objects.exists()


def test_unknown_firm_or_account_is_named(firm_a):
    with pytest.raises(CommandError, match="No active firm has the slug 'nope'"):
        call_command("rebalance", "--firm", "nope")
    with pytest.raises(CommandError, match="unknown account number\\(s\\): X-404"):
        call_command("rebalance", "--firm", "firm-a", "--account", "X-404")
