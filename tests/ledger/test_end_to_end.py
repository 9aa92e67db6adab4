"""One account walked round the whole loop, through a real Celery worker on committed data:
import -> run -> proposal -> approve -> release -> orders out -> fills in -> lots and realised
gains updated -> the next nightly scan sees the new state."""

import csv
import io
from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.imports import book_import
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.orders import orders_csv, orders_open
from rebalancing.ledger.quantities import cents
from rebalancing.models import (
    Account,
    ApprovalPolicy,
    BasisAdjustment,
    Household,
    ModelPortfolio,
    Order,
    ParameterTemplate,
    Proposal,
    RealisedLot,
    RebalanceRun,
    RunOutcome,
    Security,
    TaxLot,
    TradeRecord,
)
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.runs import run_start
from rebalancing.tasks import nightly_scan
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..integration.conftest import wait_for
from ..rebalancing.book import make_model, make_template

pytestmark = pytest.mark.integration

SECURITIES = b"""symbol,name,asset_class,is_fund,equivalence_group
VTI,Vanguard Total Stock Market,us_equity,yes,us_total
ITOT,iShares Core Total US Stock,us_equity,yes,us_total
BND,Vanguard Total Bond,bonds,yes,us_agg
VNQ,Vanguard Real Estate,real_estate,yes,reit
"""


@pytest.fixture
def firm(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            had_policy = ApprovalPolicy.objects.exists()
        yield firm
        with tenant_context(firm):
            RebalanceRun.objects.all().delete()
            Account.objects.all().delete()
            Household.objects.all().delete()
            ModelPortfolio.objects.all().delete()
            ParameterTemplate.objects.all().delete()
            Security.objects.all().delete()
            if not had_policy:
                ApprovalPolicy.objects.all().delete()


def _completed(firm, **filters):
    with tenant_context(firm):
        return RebalanceRun.objects.filter(status=RebalanceRun.Status.COMPLETED, **filters).first()


def test_an_account_goes_round_the_loop_and_the_nightly_scan_sees_the_result(firm, ledger_worker, django_db_blocker):
    today = timezone.localdate()
    with django_db_blocker.unblock():
        with tenant_context(firm):
            pm = user_ensure(username="pm@e2e.example", email="pm@e2e.example", roles=[FirmRole.PORTFOLIO_MANAGER])
            # Import: the book arrives as the custodian's files.
            book_import(kind="securities", source=SECURITIES, as_of=today)
            book_import(kind="prices", source=(f"symbol,date,close\nVTI,{today},100\nITOT,{today},50\n"
                                               f"BND,{today},80\nVNQ,{today},90\n").encode(), as_of=today)
            make_model()  # 60% VTI, 30% BND, 10% VNQ
            make_template(parameters={"drift": {"enabled": True, "absolute_band": 0.05}})
            book_import(kind="accounts", source=(
                b"account_number,account_name,household_id,model,template,cash\n"
                b"E2E-1,End to end,HH-E2E,balanced,standard,1000\n"), as_of=today)
            book_import(kind="lots", source=(
                b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                b"E2E-1,L1,VTI,300,24000,2020-01-02\n"
                b"E2E-1,L2,BND,100,9000,2026-06-01\n"), as_of=today)
            account = Account.objects.get(custodian_number="E2E-1")

            # Run, through the worker.
            run = run_start(scope=RunScope(account_ids=(account.pk,)), as_of=today, label="e2e")
        wait_for(lambda: _completed(firm, pk=run.pk), worker=ledger_worker)

        with tenant_context(firm):
            proposal = Proposal.objects.get(run=run, account=account)
            assert proposal.status == Proposal.Status.PENDING and proposal.trade_count > 0
            proposal = proposal_approve(proposal=proposal, user=pm, comment="in line with the model")
            assert proposal.status == Proposal.Status.APPROVED
            proposal_release(proposal=proposal, user=pm)

            # Orders out, fills in: every order filled at its reference price, by the custodian's file.
            exported = list(csv.DictReader(io.StringIO(orders_csv(orders_open()))))
            assert {row["order_id"] for row in exported} == set(proposal.orders.values_list("order_id", flat=True))
            fills = io.StringIO()
            writer = csv.writer(fills)
            writer.writerow(["external_id", "order_id", "quantity", "price", "trade_date"])
            for row in exported:
                writer.writerow([f"E2E-{row['order_id']}", row["order_id"], row["quantity"], row["reference_price"], today])
            lots_before = {lot.lot_id: lot for lot in TaxLot.objects.filter(account=account)}
            summary = executions_import(source=fills.getvalue().encode(), actor="custodian feed", as_of=today)
            assert summary.created == len(exported)

            # Lots and realised gains: what the engine predicted, to the cent.
            proposal.refresh_from_db()
            assert proposal.status == Proposal.Status.EXECUTED
            assert set(Order.objects.filter(proposal=proposal).values_list("status", flat=True)) == {"filled"}
            trades = proposal.result["trades"]
            predicted = sorted((lot["lot_id"], D(str(lot["quantity"])), cents(D(str(lot["gain"]))), lot["term"])
                               for t in trades if t["side"] == "sell" for lot in t["lots"])
            realised = sorted((r.lot_id, r.quantity, r.gain, r.term) for r in RealisedLot.objects.filter(account=account))
            assert realised == predicted and realised
            sold = {lot_id: q for lot_id, q, _, _ in realised}
            lots_after = {lot.lot_id: lot.quantity for lot in TaxLot.objects.filter(account=account)}
            for lot_id, lot in lots_before.items():
                assert lots_after.get(lot_id, D(0)) == lot.quantity - sold.get(lot_id, D(0))
            bought = {t["symbol"]: D(str(t["quantity"])) for t in trades if t["side"] == "buy"}
            assert {TaxLot.objects.get(account=account, lot_id=f"E2E-{o.order_id}").security.symbol: o.quantity
                    for o in proposal.orders.filter(side="buy")} == bought
            account.refresh_from_db()
            cash = D(1000) + sum((cents(D(str(t["quantity"])) * D(str(t["price"]))) * (1 if t["side"] == "sell" else -1)
                                  for t in trades), D(0))
            assert account.cash == cash
            gains = {term: sum((g for _, _, g, t in realised if t == term), D(0)) for term in ("short", "long")}
            assert (account.realised_short_term_ytd, account.realised_long_term_ytd) == (gains["short"], gains["long"])

            # What the next run loads is the ledger's new state, recent trades included.
            [inputs] = rebalance_inputs_load([account.pk], as_of=today)
            assert {lot.id: D(str(lot.quantity)) for lot in inputs.request.account.lots} == {
                lot.lot_id: lot.quantity for lot in TaxLot.objects.filter(account=account)}
            assert len(inputs.request.account.household_trades) == TradeRecord.objects.filter(account=account).count()

            # The nightly scan, sent as beat sends it.
            nightly_scan.delay()
        nightly = wait_for(lambda: _completed(firm, kind=RebalanceRun.Kind.NIGHTLY), worker=ledger_worker)

        with tenant_context(firm):
            # Back within its drift band: nothing to do.
            assert RunOutcome.objects.get(run=nightly, account=account).outcome == RunOutcome.Outcome.NO_TRADES


def test_a_household_run_through_the_worker_harvests_and_buys_without_a_wash_sale(firm, ledger_worker,
                                                                                  django_db_blocker):
    """A taxable account holding VTI at a loss (harvesting on) and an IRA of the same household
    that must buy US equity: one firm run through a real worker, every order filled by the
    custodian's file, and not a cent of loss disallowed (IRS Pub. 550, Rev. Rul. 2008-5)."""
    today = timezone.localdate()
    with django_db_blocker.unblock():
        with tenant_context(firm):
            pm = user_ensure(username="pm@e2e.example", email="pm@e2e.example", roles=[FirmRole.PORTFOLIO_MANAGER])
            book_import(kind="securities", source=SECURITIES + b"SCHB,Schwab US Broad Market,us_equity,yes,us_broad\n",
                        as_of=today)
            book_import(kind="prices", source=(f"symbol,date,close\nVTI,{today},100\nITOT,{today},50\n"
                                               f"BND,{today},80\nVNQ,{today},90\nSCHB,{today},25\n").encode(), as_of=today)
            make_model()
            make_template(parameters={"cash": {"target": 0.01}, "trading": {"whole_shares": True}, "harvest": {
                "enabled": True, "min_loss_value": 100, "min_loss_pct": 0.02, "substitutes": {"VTI": "SCHB"}}})
            book_import(kind="accounts", source=(
                b"account_number,account_name,household_id,model,template,cash,taxable\n"
                b"HH-TAX,Joint taxable,HH-E2E,balanced,standard,500,yes\n"
                b"HH-IRA,IRA,HH-E2E,balanced,standard,50000,no\n"), as_of=today)
            recent = today.replace(day=1) if today.day > 1 else today
            book_import(kind="lots", source=(
                f"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                f"HH-TAX,T1,VTI,300,45000,{recent}\nHH-TAX,T2,BND,160,12800,2025-01-02\n"
                f"HH-TAX,T3,VNQ,50,4500,2025-01-02\n").encode(), as_of=today)
            run = run_start(scope=RunScope(firm=True), as_of=today, label="e2e household")
        wait_for(lambda: _completed(firm, pk=run.pk), worker=ledger_worker)

        with tenant_context(firm):
            compliance = user_ensure(username="cco@e2e.example", email="cco@e2e.example",
                                     roles=[FirmRole.COMPLIANCE])
            proposals = list(Proposal.objects.filter(run=run).select_related("account"))
            assert {p.account.custodian_number for p in proposals} == {"HH-TAX", "HH-IRA"}
            for proposal in proposals:
                for approver in (pm, compliance):
                    if proposal.status == Proposal.Status.PENDING:
                        proposal = proposal_approve(proposal=proposal, user=approver, comment="household checked")
                proposal_release(proposal=proposal, user=pm)
            fills = io.StringIO()
            writer = csv.writer(fills)
            writer.writerow(["external_id", "order_id", "quantity", "price", "trade_date"])
            for row in csv.DictReader(io.StringIO(orders_csv(orders_open()))):
                writer.writerow([f"F-{row['order_id']}", row["order_id"], row["quantity"], row["reference_price"], today])
            executions_import(source=fills.getvalue().encode(), actor="custodian feed", as_of=today)

            realised = RealisedLot.objects.filter(account__household__external_id="HH-E2E")
            assert realised.filter(gain__lt=0).exists() or Order.objects.filter(
                account__custodian_number="HH-IRA", security__symbol="VTI", side="buy").exists()
            assert sum(r.disallowed_loss for r in realised) == 0
            assert not BasisAdjustment.objects.exists()
