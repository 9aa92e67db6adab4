"""The firm's risk model: estimated from its Price rows, versioned, refreshed nightly in each firm's
schema, given to direct-indexed sleeves by the engine inputs loader (or the default, saying why)."""

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import (
    Benchmark,
    BenchmarkWeight,
    ModelPortfolio,
    ModelVersion,
    Price,
    RiskModelVersion,
    Security,
    Sleeve,
)
from rebalancing.services.risk_models import risk_model_estimate
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import make_account

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 20)
STOCKS = ["AAA", "BBB", "CCC", "DDD"]


def _business_days(end: date, n: int) -> list[date]:
    days, d = [], end
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return days[::-1]


def _prices(seed: int, days: int, symbols=STOCKS, end: date = AS_OF, gap: str | None = None) -> dict[str, list]:
    """Correlated random walks stored as Price rows (6 decimals, as the column keeps them); returns
    the closes the test uses for its own computation."""
    rng = np.random.default_rng(seed)
    dates = _business_days(end, days)
    market = rng.normal(0, 0.01, days)
    closes = {}
    for i, symbol in enumerate(symbols):
        sec = Security.objects.get_or_create(symbol=symbol, defaults={"name": symbol, "asset_class": "us_equity"})[0]
        walk = 50 * np.exp(np.cumsum((0.5 + 0.3 * i) * market + rng.normal(0, 0.012, days)))
        rows = [round(float(p), 6) for p in walk]
        Price.objects.bulk_create([
            Price(security=sec, date=d, close=Decimal(f"{p:.6f}"))
            for d, p in zip(dates, rows, strict=True) if not (symbol == gap and d == dates[days // 2])
        ])
        closes[symbol] = rows
    return {"dates": dates, **closes}


def _ledoit_wolf(returns: np.ndarray) -> np.ndarray:
    """Ledoit & Wolf (2004) shrinkage toward a scaled identity, written out from the paper."""
    n, p = returns.shape
    x = returns - returns.mean(axis=0)
    sample = x.T @ x / n
    mu = np.trace(sample) / p
    d2 = np.sum((sample - mu * np.eye(p)) ** 2)
    b2 = sum(np.sum((np.outer(row, row) - sample) ** 2) for row in x) / n**2
    shrink = min(b2, d2) / d2
    return shrink * mu * np.eye(p) + (1 - shrink) * sample


def _covariance(version: RiskModelVersion) -> np.ndarray:
    loadings = np.array(version.estimate["loadings"])
    return loadings @ loadings.T + np.diag(version.estimate["specific"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_estimate_is_ledoit_wolf_of_the_last_six_months_of_the_firms_prices(firm_a, seed):
    with tenant_context(firm_a):
        closes = _prices(seed, 200)
        refresh = risk_model_estimate(as_of=AS_OF)

    version = refresh.version
    assert refresh.created and version.as_of == AS_OF and version.observations == 126 and version.window_days == 126
    assert version.symbols == STOCKS and version.factor_count == 4
    window = np.column_stack([closes[s][-127:] for s in STOCKS])
    expected = _ledoit_wolf(np.diff(np.log(window), axis=0)) * 252
    np.testing.assert_allclose(_covariance(version), expected, rtol=1e-6, atol=1e-9)
    # The engine's form of the version carries the same covariance.
    rm = version.as_engine()
    assert rm.factors == ("pc1", "pc2", "pc3", "pc4")
    assert rm.specific_variance["CCC"] == pytest.approx(version.estimate["specific"][2])


def test_versions_are_kept_and_the_same_prices_make_no_new_one(firm_a, firm_user):
    pm = firm_user(firm_a, "pm-risk@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        _prices(7, 150)
        first = risk_model_estimate(as_of=AS_OF - timedelta(days=7), user=pm)
        second = risk_model_estimate(as_of=AS_OF, user=pm)
        again = risk_model_estimate(as_of=AS_OF)
        versions = list(RiskModelVersion.objects.order_by("as_of"))
        events = list(AuditEvent.objects.filter(action="risk_model.estimate").order_by("id"))

    assert first.created and second.created and not again.created and again.version.pk == second.version.pk
    assert [v.as_of for v in versions] == [date(2026, 11, 13), AS_OF]
    assert versions[0].estimate != versions[1].estimate  # a week of new returns moves the estimate
    assert [(e.object_id, e.actor_id) for e in events] == [(str(first.version.pk), pm.pk),
                                                            (str(second.version.pk), pm.pk)]
    assert events[1].after["observations"] == 126 and events[1].after["securities"] == 4


def test_a_security_missing_a_day_is_not_covered_and_too_little_history_is_refused(firm_a, firm_user):
    compliance = firm_user(firm_a, "co-risk@firm-a.example", FirmRole.COMPLIANCE)
    with tenant_context(firm_a):
        _prices(4, 150, gap="BBB")
        version = risk_model_estimate(as_of=AS_OF).version
        with pytest.raises(ValidationFailed, match="needs prices on at least 61 days up to 2026-01-02; the firm has 0"):
            risk_model_estimate(as_of=date(2026, 1, 2))
        with pytest.raises(PermissionDenied):
            risk_model_estimate(as_of=AS_OF, user=compliance)
        assert RiskModelVersion.objects.count() == 1

    assert version.symbols == ["AAA", "CCC", "DDD"]


def test_the_nightly_refresh_runs_in_each_firms_schema_and_once_per_prices(firm_a, firm_b):
    from rebalancing.models import RiskModelEstimate
    from rebalancing.tasks import risk_model_refresh

    with tenant_context(firm_a):
        _prices(5, 140, end=date.today())
        pk = risk_model_refresh()
        assert risk_model_refresh() == pk  # run twice, nothing twice
        assert list(RiskModelVersion.objects.values_list("pk", flat=True)) == [pk]
        assert AuditEvent.objects.get(action="risk_model.estimate").actor == "nightly risk model refresh"
        assert list(RiskModelEstimate.objects.values_list("origin", "outcome")) == [
            ("nightly", "unchanged"), ("nightly", "new")]
    with tenant_context(firm_b):
        assert risk_model_refresh() is None  # no prices: no version, the default model stays
        assert not RiskModelVersion.objects.exists()
        night = RiskModelEstimate.objects.get()  # and the night says why
        assert (night.status, night.error_code) == ("failed", "insufficient_price_history")
    assert connection.schema_name == "public"
    with pytest.raises(ValueError, match="inside a firm's schema"):
        risk_model_refresh()


def _direct_indexed_account():
    bench = Benchmark.objects.create(code="TOP4", name="Top 4")
    for symbol in STOCKS:
        BenchmarkWeight.objects.create(benchmark=bench, date=AS_OF - timedelta(days=30),
                                       security=Security.objects.get(symbol=symbol), weight=Decimal("0.25"))
    model = ModelPortfolio.objects.create(code="di", name="Direct index")
    version = ModelVersion.objects.create(model=model, number=1)
    Sleeve.objects.create(version=version, asset_class="us_equity", weight=Decimal(1), benchmark=bench,
                          kind=Sleeve.Kind.DIRECT_INDEX)
    return make_account("T-DI", model=model, cash="100000")


def test_direct_indexed_sleeves_get_the_latest_version_or_the_default_saying_why(firm_a):
    with tenant_context(firm_a):
        _prices(6, 150)
        account = _direct_indexed_account()
        [before] = rebalance_inputs_load([account.pk], as_of=AS_OF)
        version = risk_model_estimate(as_of=AS_OF).version
        [after] = rebalance_inputs_load([account.pk], as_of=AS_OF)
        [stale] = rebalance_inputs_load([account.pk], as_of=AS_OF + timedelta(days=40))

    assert before.error is None and before.risk_model_version_id is None
    assert before.request.model.sleeves[0].benchmark.risk_model is None
    assert "the engine's default risk model: none has been estimated" in before.risk_model_note
    assert after.risk_model_version_id == version.pk and after.risk_model_note == ""
    rm = after.request.model.sleeves[0].benchmark.risk_model
    assert set(rm.loadings) == set(STOCKS) and len(rm.factors) == 4
    assert after.fingerprint != before.fingerprint
    assert stale.risk_model_version_id is None and "more than 31 days old" in stale.risk_model_note


def direct_indexed_proposal(pm, *, estimate: bool = True):
    """A run's proposal for a direct-indexed account holding one name and cash (inside the schema)."""
    from rebalancing.models import Proposal
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    _prices(6, 150)
    account = _direct_indexed_account()
    aaa = Security.objects.get(symbol="AAA")
    account.lots.create(lot_id="L1", security=aaa, quantity=Decimal(1000),
                        cost_basis=Decimal(40000), acquired=date(2024, 1, 2))
    if estimate:
        risk_model_estimate(as_of=AS_OF)
    run = run_start(scope=RunScope(account_ids=(account.pk,)), as_of=AS_OF, user=pm)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.get(run=run)


def test_a_proposal_records_the_version_and_its_tracking_error_with_cash_drag(firm_a, firm_user,
                                                                             django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm-di@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a), django_capture_on_commit_callbacks(execute=False):
        proposal = direct_indexed_proposal(pm)
        version = RiskModelVersion.objects.get()

    assert proposal.risk_model_version_id == version.pk and proposal.risk_model_note == ""
    summary = proposal.result["summary"]
    # Before: one name and cash. Counting the cash as uninvested sleeve money changes the figure.
    te, te_cash = summary["tracking_error_before"]["us_equity"], summary["tracking_error_with_cash_before"]["us_equity"]
    assert te > 0 and te_cash > 0 and te_cash != pytest.approx(te, rel=1e-3)
    assert summary["tracking_error_with_cash_after"]["us_equity"] is not None
