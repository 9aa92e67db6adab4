"""The account page once a proposal's trades have executed, and after a run that failed (a browser
audit): the headline drift, the open alerts, the accounts page's "needs attention" and the
dashboard's count say the same thing; the harvest figure says why the harvest alert counts less;
a failed run is said in words while the older proposal is still shown, as older."""

import re
from decimal import Decimal

import pytest

from frontend.selectors import dashboard_counts
from rebalancing.ledger.executions import executions_import
from rebalancing.models import Alert, Order, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.revisions import InstructionAdded
from tests.ledger.helpers import cancel, execution_csv, fill
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _open_drift(account) -> list[Alert]:
    return list(Alert.objects.filter(account=account, kind=Alert.Kind.DRIFT, resolved_at__isnull=True))


def _released(book, people) -> Proposal:
    """F-000's proposal of the book's run (it trades for drift), approved and released."""
    account = book["mine"][0]
    proposal = Proposal.objects.get(account=account, run=book["run"])
    assert proposal.drift_before > 0.03 and _open_drift(account)
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.APPROVED)
    proposal_release(proposal=proposal, user=people["pm"], today=AS_OF)
    return proposal


def _fill_all(proposal, *, cancel_first: bool = False) -> None:
    prices = {(t["symbol"], t["side"]): t["price"] for t in proposal.result["trades"]}
    orders = list(Order.objects.filter(proposal=proposal).select_related("security").order_by("pk"))
    rows = [fill(f"X-{o.pk}", o, o.quantity, f"{prices[o.security.symbol, o.side]:.4f}", AS_OF) for o in orders]
    if cancel_first:
        rows[0] = cancel(f"X-{orders[0].pk}", orders[0], AS_OF)
    executions_import(source=execution_csv(*rows), actor="test", as_of=AS_OF)


def test_once_its_proposal_executed_the_account_drift_and_its_alert_agree_everywhere(book, people, as_user):
    # Given F-000 drifted beyond its band, its drift alert open and counted on the dashboard
    account = book["mine"][0]
    advisor = as_user("advisor")
    assert account.custodian_number in text(advisor.get("/accounts/?attention=drift"))
    drifted = dashboard_counts(people["advisor"]).drift
    proposal = _released(book, people)
    # When every order of its proposal fills
    _fill_all(proposal)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXECUTED
    # Then its drift alert is resolved...
    assert not _open_drift(account)
    page = text(advisor.get(f"/accounts/{account.pk}/"))
    assert "Drift beyond band" not in page
    # ...the headline is the drift the trades left, measured from the holdings (not the 11% found)
    headline = re.search(r'data-testid="drift"><dt>([^<]*)</dt><dd>([\d.]+)%', page)
    assert headline.group(1) == f"Drift now, after proposal #{proposal.pk} executed"
    assert float(headline.group(2)) < 1.0 < proposal.drift_before * 100
    assert f"it found {proposal.drift_before:.1%}" in page
    # ...and neither the accounts page's "needs attention" nor the dashboard counts it any more
    assert account.custodian_number not in text(advisor.get("/accounts/?attention=drift"))
    assert dashboard_counts(people["advisor"]).drift == drifted - 1
    listed = text(advisor.get("/accounts/?sort=drift"))
    row = re.search(rf'{account.custodian_number}</a>.*?</tr>', listed).group(0)
    assert f"{proposal.drift_after:.1%}" in row and f"{proposal.drift_before:.1%}" not in row


def test_an_order_cancelled_leaves_the_drift_alert_open(book, people, as_user):
    # Given F-000's released proposal, one of whose orders the custodian cancels, the rest filled
    account = book["mine"][0]
    proposal = _released(book, people)
    _fill_all(proposal, cancel_first=True)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXECUTED
    # Then the drift is not what the proposal planned: its alert stays open, the page measures what is left
    assert _open_drift(account)
    assert "Drift now, after proposal" in text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # ... and the accounts list, its drift filter and the next run's min_drift count it at what it found,
    # not at the plan the cancelled order did not carry out (the list read 0.0% beside an 11.3% alert)
    listed = text(as_user("advisor").get("/accounts/?sort=drift"))
    row = re.search(rf'{account.custodian_number}</a>.*?</tr>', listed).group(0)
    assert f"{proposal.drift_before:.1%}" in row and f"{proposal.drift_after:.1%}" not in row


def test_an_executed_instruction_leaves_the_drift_alert_to_the_next_run(book, people):
    # Given F-000 beyond its band, its drift alert open, and an instruction that sells VNQ for VTI
    # (the command decides the trades, not the bands: the drift it leaves is not the run's answer)
    account = book["mine"][0]
    [alert] = _open_drift(account)
    proposal = account_instruct(account=account, instructions=[InstructionAdded("sell", "VNQ", buy="VTI")],
                                by=people["pm"], as_of=AS_OF)
    assert proposal.run.kind == RebalanceRun.Kind.INSTRUCTION
    proposal_approve(proposal=proposal, user=people["advisor"])
    proposal_release(proposal=Proposal.objects.get(pk=proposal.pk), user=people["pm"], today=AS_OF)
    # When every order of the instruction fills
    _fill_all(proposal)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXECUTED
    # Then the run's drift alert is still open, as it was: the next run decides it
    assert [a.pk for a in _open_drift(account)] == [alert.pk]


def test_a_later_runs_drift_alert_is_not_resolved_by_an_earlier_proposal(book, people):
    account = book["mine"][0]
    proposal = _released(book, people)
    later = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                        started_by_label="test")
    Alert.objects.filter(account=account, kind=Alert.Kind.DRIFT, resolved_at__isnull=True).update(run=later)
    _fill_all(proposal)
    assert _open_drift(account)


def test_the_harvest_figure_says_why_the_harvest_alert_counts_less(book, as_user):
    # Given F-000 with an open harvest alert of its run smaller than the losses past the thresholds now
    account = book["mine"][0]
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert 'data-testid="harvest-apart"' not in page
    Alert.objects.update_or_create(run=book["run"], account=account, kind=Alert.Kind.HARVEST, defaults={
        "amount": Decimal("1.00"), "message": "VNQ has $1.00 of harvestable losses, not harvested: it is not harvestable now"})
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # Then the page says what each counts
    assert (f'data-testid="harvest-apart">The open harvest alert counts $1: what run {book["run"].pk} left '
            "unharvested, at its day's prices") in page
    assert "This figure is every position past the thresholds now, at the latest prices." in page


def test_a_failed_latest_run_is_said_and_the_proposal_shown_as_older(book, as_user):
    # Given F-000's proposal of the book's run, then a run that failed for it
    account = book["mine"][0]
    proposal = Proposal.objects.get(account=account, run=book["run"])
    failed = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                         failed=1, status=RebalanceRun.Status.COMPLETED, started_by_label="test")
    RunOutcome.objects.create(run=failed, account=account, outcome=RunOutcome.Outcome.FAILED,
                              code="infeasible_parameters",
                              message="The parameters cannot all hold: cash.floor and cash.max conflict")
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # Then the failure is said with its error in words and its run...
    assert (f'data-testid="failed-run"><strong>The latest run could not rebalance this account:</strong> '
            f'<a href="/runs/{failed.pk}/#failures">run {failed.pk}</a>') in page
    assert ("failed with “Infeasible parameters”: The parameters cannot all hold: cash.floor and cash.max "
            f"conflict. The proposal shown is older, from run {book['run'].pk}, made before it.") in page
    # ...and the proposal is still shown, as older than the failed run
    assert (f"Latest proposal (run {proposal.run_id}, before the failed run {failed.pk}): "
            f"{proposal.get_status_display().lower()}") in page
    assert f"Drift (latest proposal, run {proposal.run_id}, before the failed run {failed.pk})" in page


def test_a_run_that_got_through_after_a_failure_says_nothing_of_it(book, as_user):
    account = book["mine"][0]
    failed = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                         status=RebalanceRun.Status.COMPLETED, started_by_label="test")
    RunOutcome.objects.create(run=failed, account=account, outcome=RunOutcome.Outcome.FAILED, code="engine_crash",
                              message="boom")
    again = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                        status=RebalanceRun.Status.COMPLETED, started_by_label="test")
    RunOutcome.objects.create(run=again, account=account, outcome=RunOutcome.Outcome.NO_TRADES)
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert 'data-testid="failed-run"' not in page and "before the failed run" not in page



def test_an_overdrawn_account_says_so(book, as_user):
    # A purchase filled while the sale meant to fund it was cancelled leaves cash below zero
    account = book["mine"][0]
    assert 'data-testid="negative-cash"' not in text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    type(account).objects.filter(pk=account.pk).update(cash=Decimal("-23530"))
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert 'data-testid="negative-cash"' in page and "overdrawn" in page and "raises the cash first" in page
