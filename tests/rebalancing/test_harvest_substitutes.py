"""The firm-wide list of harvest substitutes: the service that sets it, the loader that makes it every
account's default ``harvest.substitutes``, and a run whose harvest buys a firm-list substitute."""

import random
from datetime import date
from types import SimpleNamespace

import pytest
from django_tenants.utils import tenant_context

from rebalancing.effective_parameters import parameters_effective
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import Proposal, Security
from rebalancing.selectors import RunScope, account_parameters, firm_harvest_substitutes
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from rebalancing.services.substitutes import harvest_substitutes_set
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_account, make_book, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@subs.test", FirmRole.FIRM_ADMIN)


def test_a_firm_admin_saves_pairs_and_a_later_list_replaces_them(firm_a, admin):
    with tenant_context(firm_a):
        make_securities()
        assert harvest_substitutes_set(pairs={"vti": "schb", "BND": "AGG"}, by=admin) == 2
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}
        assert harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin) == 1  # BND's pair removed
        assert firm_harvest_substitutes() == {"VTI": "SCHB"}
        assert harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin) == 0
        events = list(AuditEvent.objects.filter(action="security.substitutes").order_by("id"))
        assert [e.after for e in events] == [{"substitutes": {"BND": "AGG", "VTI": "SCHB"}},
                                            {"substitutes": {"VTI": "SCHB"}}]
        assert events[1].before == {"substitutes": {"BND": "AGG", "VTI": "SCHB"}} and events[1].actor_id == admin.pk


@pytest.mark.parametrize(("pairs", "problem"), [
    ({"VTI": "VTI"}, "VTI cannot be its own substitute"),
    ({"VTI": "ITOT"}, "ITOT is substantially identical to VTI"),
    ({"VTI": "NOPE", "ZZZ": "BND"}, "Not in the security master: NOPE, ZZZ"),
], ids=["itself", "same-equivalence-group", "unknown-symbols"])
def test_a_refused_list_names_the_problem_and_writes_nothing(firm_a, admin, pairs, problem):
    with tenant_context(firm_a):
        make_securities()
        harvest_substitutes_set(pairs={"BND": "AGG"}, by=admin)
        with pytest.raises(ValidationFailed) as refused:
            harvest_substitutes_set(pairs={"VNQ": "SCHB", **pairs}, by=admin)
        assert problem in refused.value.message
        assert firm_harvest_substitutes() == {"BND": "AGG"}  # VNQ's valid pair not saved either
        assert AuditEvent.objects.filter(action="security.substitutes").count() == 1


def test_only_who_manages_models_sets_the_list(firm_a, firm_user):
    with tenant_context(firm_a):
        make_securities()
        for role in (FirmRole.ADVISOR, FirmRole.COMPLIANCE, FirmRole.PORTFOLIO_MANAGER):
            with pytest.raises(PermissionDenied):
                harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=firm_user(firm_a, f"{role}@subs.test", role))
        assert firm_harvest_substitutes() == {}


def test_the_database_refuses_a_security_substituting_itself(firm_a):
    from django.db import IntegrityError, transaction

    with tenant_context(firm_a):
        vti = make_securities()["VTI"]
        with pytest.raises(IntegrityError), transaction.atomic():
            Security.objects.filter(pk=vti.pk).update(harvest_substitute=vti)


# --- The loader: the firm's list is every account's default ------------------------------------------

def test_the_loader_gives_every_account_the_firm_list_and_a_template_overrides_per_security(firm_a, admin):
    with tenant_context(firm_a):
        book = make_book(1)
        own = make_template("own-pairs", parameters={"harvest": {"substitutes": {"BND": "VNQ"}}})
        lots = [("VTI", 10, 900, date(2024, 1, 2)), ("BND", 10, 900, date(2024, 1, 2))]
        plain, overriding = book["accounts"][0], make_account("T-OWN", model=book["model"], template=own,
                                                              holdings=lots)
        harvest_substitutes_set(pairs={"VTI": "SCHB", "BND": "AGG", "VNQ": "BND"}, by=admin)

        inputs = {i.account_id: i for i in rebalance_inputs_load([plain.pk, overriding.pk], as_of=AS_OF)}
        effective = account_parameters(overriding)

    assert [i.error for i in inputs.values()] == [None, None]
    # Only the pairs of held securities (VNQ is held by neither); the template's BND pair wins.
    assert inputs[plain.pk].parameters["harvest"]["substitutes"] == {"VTI": "SCHB", "BND": "AGG"}
    assert inputs[overriding.pk].parameters["harvest"]["substitutes"] == {"VTI": "SCHB", "BND": "VNQ"}
    assert {"SCHB", "AGG"} <= {s.symbol for s in inputs[plain.pk].request.securities}
    # The page's view of the same account: the whole firm list under the template's own pair.
    assert effective.value_at("harvest.substitutes") == {"VTI": "SCHB", "BND": "VNQ", "VNQ": "BND"}
    assert effective.source_of("harvest.substitutes") == "firm + template:own-pairs"


def test_an_account_without_pairs_of_its_own_shows_the_firm_list_as_the_source(firm_a, admin):
    with tenant_context(firm_a):
        book = make_book(1)
        assert account_parameters(book["accounts"][0]).source_of("harvest.substitutes") == "default"
        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin)
        assert account_parameters(book["accounts"][0]).source_of("harvest.substitutes") == "firm"


def _merged_by_hand(firm, template, household, account):
    """The rule written plainly: the last layer that names substitutes gives its whole map (a map
    leaf is replaced, never merged); the firm's pairs fill in every security it does not name.
    Returns the merged pairs and the layers' own."""
    own = {}
    for layer in (template, household, account):
        if layer is not None and "substitutes" in layer.get("harvest", {}):
            own = layer["harvest"]["substitutes"]
    return {**firm, **own}, own


def test_the_firm_list_sits_under_every_layer_per_security_over_random_cases():
    rng = random.Random(13)
    symbols = ["VTI", "ITOT", "SCHB", "BND", "AGG", "VNQ", "XLE", "SPY"]

    def pairs():
        return {a: rng.choice([s for s in symbols if s != a]) for a in rng.sample(symbols, rng.randint(0, 4))}

    def layer():
        return rng.choice([None, {}, {"cash": {"target": 0.02}}, {"harvest": {"substitutes": pairs()}}])

    for _ in range(500):
        firm, template_layer, household, account = pairs(), layer(), layer(), layer()
        template = SimpleNamespace(code="t", parameters=template_layer) if template_layer is not None else None
        effective = parameters_effective(template=template, household_overrides=household,
                                         account_overrides=account, firm_substitutes=firm)
        expected, own = _merged_by_hand(firm, template_layer, household, account)
        assert effective.value_at("harvest.substitutes") == expected
        # The source names the firm exactly when one of its pairs is used.
        assert ("firm" in effective.source_of("harvest.substitutes")) == bool(set(firm) - set(own))


# --- A run harvests into the firm-list substitute ------------------------------------------------------

HARVEST = {"cash": {"target": 0.01}, "trading": {"whole_shares": True},
           "harvest": {"enabled": True, "min_loss_value": 100, "min_loss_pct": 0.02}}


def _harvest_run(account):
    # replace_approved: the first run's proposal is approved automatically; the second replaces it.
    run = run_start(scope=RunScope(account_ids=(account.pk,), replace_approved=True), as_of=AS_OF, label="test")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    run.refresh_from_db()
    assert run.failed == 0, list(run.outcomes.values())
    proposal = Proposal.objects.filter(run=run).first()  # none when there is nothing to do
    return proposal.result["trades"] if proposal else []


def test_a_runs_harvest_buys_the_firm_list_substitute(firm_a, admin):
    with tenant_context(firm_a):
        make_securities()
        model = make_model()
        account = make_account("T-HARVEST", model=model, template=make_template("harvest", parameters=HARVEST),
                               cash="500", holdings=[("VTI", 300, 45000, date(2026, 3, 2)),  # a 15,000 loss
                                                     ("BND", 160, 12800, date(2025, 1, 2)),
                                                     ("VNQ", 50, 4500, date(2025, 1, 2))])
        # Without a substitute VTI's loss cannot be harvested (nothing to hold in its place).
        before = _harvest_run(account)
        assert not any("harvest" in t["reasons"] and t["symbol"] == "VTI" for t in before)

        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin)
        trades = _harvest_run(account)

    sold = [t for t in trades if t["symbol"] == "VTI" and t["side"] == "sell"]
    assert sold and "harvest" in sold[0]["reasons"] and sold[0]["quantity"] == 300
    assert any(t["symbol"] == "SCHB" and t["side"] == "buy" for t in trades)
    assert not any(t["symbol"] in ("VTI", "ITOT") and t["side"] == "buy" for t in trades)


def test_a_substitute_stays_outside_its_securitys_group_whichever_page_changes(firm_a, admin):
    from django.core.exceptions import ValidationError as ModelValidationError

    from rebalancing.services.equivalents import equivalence_groups_set

    with tenant_context(firm_a):
        securities = make_securities()
        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin)
        with pytest.raises(ValidationFailed) as refused:
            equivalence_groups_set(groups=[["VTI", "ITOT", "SCHB"]], by=admin)
        assert "SCHB is VTI's harvest substitute and may not join its group" in refused.value.message
        assert Security.objects.get(symbol="SCHB").equivalence_group == "us_broad_schwab"  # nothing written
        equivalence_groups_set(groups=[["VTI", "ITOT"], ["BND", "AGG"]], by=admin)  # SCHB stays out: fine
        # The admin site's form cleans the model: the same rule.
        vti = securities["VTI"]
        vti.harvest_substitute = securities["ITOT"]
        with pytest.raises(ModelValidationError, match="ITOT is substantially identical to VTI"):
            vti.full_clean()


def test_a_securities_file_that_groups_a_security_with_its_substitute_is_refused_whole(firm_a, admin):
    from rebalancing.imports import ImportRejected, securities_import

    with tenant_context(firm_a):
        make_securities()
        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=admin)
        file = (b"symbol,name,asset_class,equivalence_group\n"
                b"VNQ,Real estate,real_estate,reit_new\n"
                b"SCHB,Schwab broad,us_equity,us_total\n")
        with pytest.raises(ImportRejected) as refused:
            securities_import(source=file)
        [problem] = refused.value.detail["problems"]
        assert (problem["row"], problem["column"]) == (3, "equivalence_group")
        assert "SCHB is VTI's harvest substitute and may not share its group" in problem["problem"]
        groups = dict(Security.objects.values_list("symbol", "equivalence_group"))
        assert (groups["SCHB"], groups["VNQ"]) == ("us_broad_schwab", "reit")  # nothing written


# -- substitutes suggested by correlation ---------------------------------------------------------------

def _prices_that_move(days=90, seed=5):
    """VTI and ITOT track one index (one equivalence group), SCHB the same market less closely, IWM
    not at all; the two bond funds move together; VNQ alone in its class."""
    from datetime import timedelta

    import numpy as np

    from rebalancing.models import Price

    rng = np.random.default_rng(seed)
    market, bonds = rng.normal(0, 0.01, days), rng.normal(0, 0.003, days)
    moves = {"VTI": market + rng.normal(0, 0.0005, days), "ITOT": market + rng.normal(0, 0.0005, days),
             "SCHB": market + rng.normal(0, 0.003, days), "BND": bonds + rng.normal(0, 0.001, days),
             "AGG": bonds + rng.normal(0, 0.001, days), "VNQ": rng.normal(0, 0.012, days)}
    Price.objects.all().delete()
    for symbol, move in moves.items():
        security = Security.objects.get(symbol=symbol)
        closes = 50 * np.exp(np.cumsum(move))
        Price.objects.bulk_create([Price(security=security, date=AS_OF - timedelta(days=days - 1 - k),
                                         close=round(float(c), 6)) for k, c in enumerate(closes)])


def test_substitutes_are_suggested_by_correlation_outside_the_equivalence_group_and_the_asset_class(firm_a, admin):
    from rebalancing.services.substitutes import substitute_suggestions

    with tenant_context(firm_a):
        make_securities()
        make_model()  # VTI, BND, VNQ
        harvest_substitutes_set(pairs={"BND": "VNQ"}, by=admin)  # a poor one, typed by hand
        _prices_that_move()
        found = substitute_suggestions(as_of=AS_OF)
        rows = {r.symbol: r for r in found.rows}
        assert (found.days, found.last) == (89, AS_OF)  # 90 days of closes, 89 returns
        assert set(rows) == {"VTI", "BND", "VNQ"}  # what the model holds, and what has a substitute
        # ITOT moves most like VTI but is substantially identical to it: a purchase would wash the loss.
        assert rows["VTI"].suggested == "SCHB" and rows["VTI"].correlation > 0.9
        assert (rows["BND"].current, rows["BND"].suggested) == ("VNQ", "AGG")
        assert rows["BND"].correlation > 0.8 > 0.2 > abs(rows["BND"].current_correlation)
        assert rows["VNQ"].suggested is None is rows["VNQ"].best  # alone in its asset class
        assert not AuditEvent.objects.filter(action="security.substitutes").exclude(actor_id=admin.pk).exists()


def test_a_candidate_that_moves_too_little_like_the_security_is_shown_not_suggested(firm_a, admin, monkeypatch):
    from rebalancing.services import substitutes

    with tenant_context(firm_a):
        make_securities()
        make_model()
        _prices_that_move()
        monkeypatch.setattr(substitutes, "MIN_CORRELATION", 0.999)
        rows = {r.symbol: r for r in substitutes.substitute_suggestions(as_of=AS_OF).rows}
        assert (rows["VTI"].suggested, rows["VTI"].best) == (None, "SCHB") and rows["VTI"].correlation < 0.999


def test_without_enough_prices_the_suggestions_say_why(firm_a, admin):
    from rebalancing.services.substitutes import substitute_suggestions

    with tenant_context(firm_a):
        make_securities()
        make_model()
        found = substitute_suggestions(as_of=AS_OF)
        assert found.days == 0 and "a suggestion by correlation needs prices on at least 61 days" in found.problem
        assert {r.symbol for r in found.rows} == {"VTI", "BND", "VNQ"} and all(r.suggested is None for r in found.rows)
