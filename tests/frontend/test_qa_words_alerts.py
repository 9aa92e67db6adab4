"""QA round (demo): an account's alerts do not pile up once per run. An open alert of a kind is
refreshed by the next solve that raises it again (its run, figures and date), resolved by the next
solve that no longer raises it, and left as it is by a run that failed the account; amounts in its
text carry the currency sign."""

import html
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django_tenants.utils import tenant_context

from rebalancing import engine
from rebalancing.models import Alert, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.runs import alerts_record, run_chunks, run_process_chunk, run_start
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _run() -> RebalanceRun:
    return RebalanceRun.objects.create(scope=RunScope(firm=True).to_dict(), as_of=AS_OF, total=1,
                                       started_by_label="test")


def _solved(*alerts: engine.Alert):
    """An engine result as the recorder reads it: its alerts, no trades."""
    return SimpleNamespace(alerts=list(alerts), trades=[])


def _harvest(amount: float) -> engine.Alert:
    return engine.Alert("harvest_opportunity", f"VOO has {amount:,.2f} of harvestable losses, not harvested: "
                        "harvesting is switched off", symbol="VOO", amount=amount)


def _open(account) -> list[Alert]:
    return list(Alert.objects.filter(account=account, resolved_at__isnull=True))


def test_an_alert_raised_again_is_refreshed_then_resolved_when_no_longer_raised(firm_a, book, as_user):
    account = book["mine"][0]
    with tenant_context(firm_a):
        Alert.objects.filter(account=account).delete()
        # given a solve that raised a harvest opportunity of $4,022.64
        first = _run()
        alerts_record(first, [(account.pk, _solved(_harvest(4022.64)))])
        [raised] = _open(account)
        assert raised.message.startswith("VOO has $4,022.64 of harvestable losses")
        # when a later solve raises it again, with other figures
        second = _run()
        alerts_record(second, [(account.pk, _solved(_harvest(3500.10)))])
        # then the one alert is refreshed: on the later run, with its figures and a later date
        [refreshed] = _open(account)
        assert refreshed.pk == raised.pk and refreshed.run_id == second.pk
        assert refreshed.amount == Decimal("3500.10") and "VOO has $3,500.10 of harvestable losses" in refreshed.message
        assert refreshed.created_at > raised.created_at
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert page.count("Harvest opportunity: VOO has $3,500.10") == 1 and "4,022.64" not in page
    with tenant_context(firm_a):
        # when a third solve no longer raises it
        alerts_record(_run(), [(account.pk, _solved())])
        # then it is resolved, and nothing is open
        assert _open(account) == [] and Alert.objects.get(pk=raised.pk).resolved_at is not None
    assert "Harvest opportunity" not in text(as_user("advisor").get(f"/accounts/{account.pk}/"))


def test_copies_recorded_before_are_folded_into_the_newest(firm_a, book):
    account = book["mine"][0]
    with tenant_context(firm_a):
        Alert.objects.filter(account=account).delete()
        # given four open copies of one alert, one per run, as the demo had them
        copies = [Alert.objects.create(run=_run(), account=account, kind=Alert.Kind.HARVEST, message="old", amount=1)
                  for _ in range(4)]
        # when the next solve raises it again
        latest = _run()
        alerts_record(latest, [(account.pk, _solved(_harvest(10)))])
        # then one is open, on the latest run, and the other copies are resolved
        [open_alert] = _open(account)
        assert open_alert.run_id == latest.pk and open_alert.pk == copies[-1].pk
        assert Alert.objects.filter(account=account, resolved_at__isnull=False).count() == 3


def test_runs_keep_one_open_alert_per_kind_and_a_failed_account_keeps_its_alerts(firm_a, book):
    with tenant_context(firm_a):
        Alert.objects.all().delete()
        accounts = book["accounts"]

        def run_all():
            run = run_start(scope=RunScope(firm=True), as_of=book["run"].as_of)
            for chunk in run_chunks(run):
                run_process_chunk(run_id=run.pk, account_ids=chunk)
            return run

        # given two runs over the same book
        first = run_all()
        raised = sorted(Alert.objects.filter(resolved_at__isnull=True).values_list("account_id", "kind"))
        assert raised, "the book's run raises alerts"
        second = run_all()
        # then each account has the first run's alerts once, now on the second run
        after = Alert.objects.filter(resolved_at__isnull=True)
        assert sorted(after.values_list("account_id", "kind")) == raised
        assert set(after.values_list("run_id", flat=True)) == {second.pk} and first.pk != second.pk
        assert not Alert.objects.filter(resolved_at__isnull=False).exists()

        # when a later run fails one account (its price missing), the alerts of that account stay open
        failing = accounts[0]
        kept = sorted(Alert.objects.filter(account=failing, resolved_at__isnull=True).values_list("pk", flat=True))
        assert kept
        from rebalancing.models import Price
        Price.objects.filter(security__symbol="VTI").delete()
        third = run_all()
        assert RunOutcome.objects.get(run=third, account=failing).outcome == RunOutcome.Outcome.FAILED
        assert sorted(Alert.objects.filter(account=failing, resolved_at__isnull=True).values_list("pk", flat=True)) == kept
