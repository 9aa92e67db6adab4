"""A run never proposes a wash sale across a household (IRS Pub. 550, Rev. Rul. 2008-5): its accounts
are solved in one chunk, one after the other, each seeing what was proposed for the others and the
household's open proposals and orders."""

from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import Account, Household, Proposal, Security
from rebalancing.planned_trades import household_plans_load
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db

HARVEST = {"cash": {"target": 0.01}, "trading": {"whole_shares": True},
           "harvest": {"enabled": True, "min_loss_value": 100, "min_loss_pct": 0.02, "substitutes": {"VTI": "SCHB"}}}


def _groups():
    return {s.symbol: s.equivalence_group or s.symbol for s in Security.objects.all()}


def washes_across(proposals) -> list[str]:
    """Groups sold at a loss in a taxable account of the household while bought in another."""
    group = _groups()
    sold_at_loss, bought = {}, {}
    for p in proposals:
        for t in p.result["trades"]:
            if t["side"] == "buy":
                bought.setdefault(group[t["symbol"]], set()).add(p.account.custodian_number)
            elif p.account.taxable and any(lot["gain"] < 0 for lot in t["lots"]):
                sold_at_loss.setdefault(group[t["symbol"]], set()).add(p.account.custodian_number)
    return sorted(g for g in sold_at_loss if g in bought)


def _household(ira_first: bool):
    make_securities()
    model = make_model()
    template = make_template("harvest", parameters=HARVEST)
    household = Household.objects.create(name="Ortiz", external_id="HH-ORTIZ", template=template)
    taxable_lots = [("VTI", 300, 45000, date(2026, 3, 2)),  # 30,000 now: a 15,000 short-term loss
                    ("BND", 160, 12800, date(2025, 1, 2)), ("VNQ", 50, 4500, date(2025, 1, 2))]

    def ira():
        account = make_account("O-IRA", model=model, household=household, cash="50000", holdings=[])
        Account.objects.filter(pk=account.pk).update(tax_status="traditional")
        return account

    if ira_first:
        first, second = ira(), make_account("O-TAX", model=model, household=household, cash="500",
                                            holdings=taxable_lots)
    else:
        first, second = make_account("O-TAX", model=model, household=household, cash="500",
                                     holdings=taxable_lots), ira()
    return household, first, second


def _run(scope: RunScope):
    run = run_start(scope=scope, as_of=AS_OF, label="test")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.filter(run=run).select_related("account")


@pytest.mark.parametrize("ira_first", [True, False], ids=["ira-solved-first", "taxable-solved-first"])
def test_a_household_run_never_harvests_in_one_account_what_another_buys(firm_a, ira_first):
    with tenant_context(firm_a):
        household, first, second = _household(ira_first)

        proposals = _run(RunScope(household_id=household.pk))

        assert {p.account.custodian_number for p in proposals} == {"O-TAX", "O-IRA"}
        assert washes_across(proposals) == []
        # Whoever was solved first had the choice: the IRA buys VTI (and the taxable account keeps
        # its loss for later), or the taxable account harvests it (and the IRA does not buy VTI).
        by_number = {p.account.custodian_number: p for p in proposals}
        ira_buys = {t["symbol"] for t in by_number["O-IRA"].result["trades"] if t["side"] == "buy"}
        harvested = {t["symbol"] for t in by_number["O-TAX"].result["trades"] if "harvest" in t["reasons"]}
        assert ("VTI" in ira_buys) == ira_first and ("VTI" in harvested) == (not ira_first)


def test_a_siblings_open_proposal_counts_as_a_planned_purchase(firm_a):
    with tenant_context(firm_a):
        household, ira, taxable = _household(ira_first=True)
        [pending] = _run(RunScope(account_ids=(ira.pk,)))  # the IRA's proposal buys VTI, not yet approved
        assert any(t["symbol"] == "VTI" and t["side"] == "buy" for t in pending.result["trades"])

        [inputs] = rebalance_inputs_load([taxable.pk], as_of=AS_OF)
        planned = [t for t in inputs.request.account.household_trades if t.account_id == "O-IRA"]
        assert planned and all(t.date == AS_OF for t in planned)

        [proposal] = _run(RunScope(account_ids=(taxable.pk,)))
        assert washes_across([pending, proposal]) == []
        assert not any("harvest" in t["reasons"] and t["symbol"] == "VTI" for t in proposal.result["trades"])


def test_an_account_alone_in_its_household_does_not_read_its_own_open_proposal(firm_a):
    # given an account alone in its household, with an open proposal (its next one replaces it)
    # and a household of two, where the other account's open proposal is a planned trade
    with tenant_context(firm_a):
        household, ira, taxable = _household(ira_first=True)
        alone = make_account("A-ALONE", model=Account.objects.get(pk=ira.pk).model,
                             holdings=[("VTI", 100, 9000, date(2025, 1, 2))], cash="20000")
        assert len(_run(RunScope(account_ids=(ira.pk, alone.pk)))) == 2

        # when both households' plans are loaded
        plans = household_plans_load([household.pk, alone.household_id], as_of=AS_OF)

    # then only the sibling's proposal is read
    assert {p.account_id for p in plans[household.pk]} == {ira.pk}
    assert alone.household_id not in plans


def test_a_households_accounts_share_a_chunk(firm_a, monkeypatch):
    from rebalancing.services import runs

    monkeypatch.setattr(runs, "CHUNK_ACCOUNTS", 3)
    with tenant_context(firm_a):
        make_securities()
        model = make_model(code="m")
        households = [Household.objects.create(name=f"H{i}", external_id=f"H{i}") for i in range(3)]
        accounts = {}
        for n, h in enumerate([0, 1, 2, 0, 1, 0]):  # H0 has three accounts, H1 two, H2 one
            accounts[n] = make_account(f"C-{n}", model=model, household=households[h], cash=Decimal("1000"))
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")

        chunks = run_chunks(run)

        where = {a: i for i, chunk in enumerate(chunks) for a in chunk}
        for h in households:
            assert len({where[a.pk] for a in h.accounts.all()}) == 1
        assert sorted(a for chunk in chunks for a in chunk) == sorted(a.pk for a in accounts.values())


def _beside_an_open_gain():
    """The Ortiz household (O-TAX harvests a 15,000 short-term loss) with O-TAX2's approved proposal,
    still open, realising a 20,000 short-term gain on the same return."""
    from tests.rebalancing.workflow import make_proposal

    household, _ira, taxable = _household(ira_first=True)
    other = make_account("O-TAX2", model=taxable.model, household=household, cash="100", holdings=[])
    older = make_proposal(other, status=Proposal.Status.APPROVED, estimated_tax="7400")
    older.result = {"trades": [], "summary": {"realised_short_term_gain": 20000, "realised_short_term_loss": 0,
                                              "realised_long_term_gain": 0, "realised_long_term_loss": 0}}
    older.save(update_fields=["result"])
    return taxable, older


def test_a_run_for_one_account_is_estimated_after_the_households_older_open_proposal(firm_a):
    # O-TAX's run harvests a 15,000 short-term loss. Alone on the return it would save at most the
    # 3,000 deduction at 37% (1,110); but O-TAX2's approved proposal, still open, realises a 20,000
    # short-term gain on the same return: after it, the harvest saves its whole loss at 37%.
    with tenant_context(firm_a):
        taxable, older = _beside_an_open_gain()

        [harvest] = _run(RunScope(account_ids=(taxable.pk,)))

        summary = harvest.result["summary"]
        assert summary["realised_short_term_loss"] == 15000 and not summary["realised_long_term_gain"]
        # Solved after it (not restated afterwards: the run's own figure is already the one).
        assert harvest.estimated_tax == Decimal("-5550.00") and summary["estimated_tax"] == -5550.0
        assert "tax_restated" not in harvest.result
        older.refresh_from_db()
        assert older.status == Proposal.Status.APPROVED and "tax_restated" not in older.result  # made first


def test_a_household_run_is_estimated_after_a_released_orders_sales_still_open(firm_a, firm_user):
    # O-TAX2's released order, not yet filled, is to realise a 20,000 short-term gain on the return:
    # a run of both leaves O-TAX2 waiting for its fills and solves O-TAX's harvest after it.
    from tenants.roles import FirmRole

    from ..ledger.helpers import release

    pm = firm_user(firm_a, "pm@released.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        household, _ira, taxable = _household(ira_first=True)
        other = make_account("O-TAX2", model=taxable.model, household=household, cash="100",
                             holdings=[("VTI", 200, 0, date(2026, 6, 1))])
        [order] = release(other, [{
            "symbol": "VTI", "side": "sell", "quantity": 200, "price": 100.0, "value": 20000.0, "reasons": ["drift"],
            "lots": [{"lot_id": "O-TAX2-L1", "quantity": 200, "proceeds": 20000.0, "cost_basis": 0.0,
                      "gain": 20000.0, "term": "short"}]}], pm=pm)

        proposals = {p.account_id: p for p in _run(RunScope(account_ids=(taxable.pk, other.pk)))}

        assert other.pk not in proposals and order.proposal.status == Proposal.Status.RELEASED
        summary = proposals[taxable.pk].result["summary"]
        assert summary["realised_short_term_loss"] == 15000
        assert proposals[taxable.pk].estimated_tax == Decimal("-5550.00")  # alone on the return: -1,110


def test_an_accounts_what_if_is_estimated_after_the_households_open_proposals(firm_a, firm_user):
    # The preview of O-TAX's parameters is solved as an edit is: after O-TAX2's open 20,000 gain.
    from rebalancing.services.previews import account_overrides_preview
    from tenants.roles import FirmRole

    pm = firm_user(firm_a, "pm@preview.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        taxable, _older = _beside_an_open_gain()

        preview = account_overrides_preview(account=taxable, overrides={}, user=pm, as_of=AS_OF)

        assert preview.current.summary["realised_short_term_loss"] == 15000
        assert preview.current.estimated_tax == -5550.0  # alone on the return: -1,110
