"""The demo book: its shape, its parameters, idempotence, firm isolation and determinism."""

import hashlib
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from rebalancing.demo import DemoBookSummary, demo_as_of, seed_demo_book
from rebalancing.demo.book import PROGRAMS, build_book, override_problems
from rebalancing.demo.catalogue import MODELS, TEMPLATES
from rebalancing.demo.market import FUND_SUBSTITUTES, HISTORY_DAYS, build_market
from rebalancing.engine import Parameters, merge_parameter_dicts
from rebalancing.models import (
    Account,
    BenchmarkWeight,
    Household,
    HouseholdUserObjectPermission,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Price,
    Security,
    Sleeve,
    SleeveHolding,
    TaxLot,
    TradeRecord,
)
from rebalancing.selectors import firm_harvest_substitutes
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 6, 12)  # a Friday
SMALL = 40  # accounts: every program still gets a household


def _seed(firm, **kwargs) -> DemoBookSummary:
    kwargs.setdefault("accounts", SMALL)
    kwargs.setdefault("as_of", AS_OF)
    return seed_demo_book(firm_slug=firm.slug, **kwargs)


def _latest_prices() -> dict[int, Decimal]:
    latest = Price.objects.filter(date=AS_OF).values_list("security_id", "close")
    return dict(latest)


def _effective_template(account: Account) -> ParameterTemplate:
    return account.template or account.household.template


def _book_digest(prefix_free: bool = False) -> str:
    """Everything the book holds, without database ids (and, optionally, without the firm prefix)."""

    def strip(text: str) -> str:
        return text.split("-", 1)[1] if prefix_free else text

    digest = hashlib.sha256()
    rows = [
        list(Security.objects.order_by("symbol").values_list(
            "symbol", "name", "asset_class", "sector", "is_fund", "tags", "esg_score", "fractional",
            "equivalence_group", "harvest_substitute__symbol")),
        list(Price.objects.order_by("security__symbol", "date").values_list("security__symbol", "date", "close")),
        list(BenchmarkWeight.objects.order_by("security__symbol").values_list("security__symbol", "date", "weight")),
        list(SleeveHolding.objects.order_by("sleeve__version__model__code", "sleeve__asset_class", "security__symbol")
             .values_list("sleeve__version__model__code", "sleeve__asset_class", "sleeve__weight", "sleeve__kind",
                          "security__symbol", "weight")),
        list(ParameterTemplate.objects.order_by("code").values_list("code", "parameters", "overridable")),
        [(strip(h.external_id), h.name, h.template.code, h.overrides, not h.advisors)
         for h in Household.objects.select_related("template").prefetch_related(
             "advisor_grants__user", "advisor_grants__permission").order_by("external_id")],
        [(strip(a.custodian_number), a.name, strip(a.household.external_id), a.model.code,
          a.template.code if a.template else None, a.overrides, a.tax_status, a.discretionary, a.short_term_rate,
          a.long_term_rate, a.cash, a.realised_short_term_ytd, a.realised_long_term_ytd, a.opened_on)
         for a in Account.objects.select_related("household", "model", "template").order_by("custodian_number")],
        [(strip(lot_id), strip(number), symbol, q, c, d) for lot_id, number, symbol, q, c, d in
         TaxLot.objects.order_by("account__custodian_number", "lot_id").values_list(
             "lot_id", "account__custodian_number", "security__symbol", "quantity", "cost_basis", "acquired")],
        [(strip(number), symbol, side, q, p, d, g) for number, symbol, side, q, p, d, g in
         TradeRecord.objects.order_by("account__custodian_number", "external_id").values_list(
             "account__custodian_number", "security__symbol", "side", "quantity", "price", "trade_date",
             "realised_gain")],
    ]
    for part in rows:
        digest.update(repr(part).encode())
    return digest.hexdigest()


def test_seeding_builds_the_whole_book(firm_a, firm_user):
    advisor1 = firm_user(firm_a, f"advisor1@{firm_a.slug}.example", FirmRole.ADVISOR)
    advisor2 = firm_user(firm_a, f"advisor2@{firm_a.slug}.example", FirmRole.ADVISOR)
    summary = _seed(firm_a)
    assert summary.created and summary.accounts == SMALL and summary.as_of == AS_OF
    with schema_context(firm_a.schema_name):
        # Security master: the real S&P 500 members and the fund lineup.
        assert BenchmarkWeight.objects.count() == 503
        assert Security.objects.filter(is_fund=False, asset_class="us_large_cap").count() == 503
        master = {s.symbol: s for s in Security.objects.all()}
        assert {master[s].equivalence_group for s in ("VOO", "IVV", "SPY")} == {"sp500"}
        for fund, substitute in FUND_SUBSTITUTES.items():
            assert master[fund].equivalence_group != master[substitute].equivalence_group, (fund, substitute)
        assert firm_harvest_substitutes() == FUND_SUBSTITUTES  # the firm-wide list, shown on its page
        assert "fossil_fuels" in master["XOM"].tags and "tobacco" in master["MO"].tags
        assert "weapons" in master["LMT"].tags and "gambling" in master["WYNN"].tags
        assert all(0 <= s.esg_score <= 100 for s in master.values() if not s.is_fund)
        assert not master["AAPL"].fractional and master["VOO"].fractional

        # Prices: the history of every security, the latest on the as-of date.
        per_security = Counter(Price.objects.values_list("security_id", flat=True))
        assert set(per_security.values()) == {HISTORY_DAYS} and len(per_security) == len(master)
        prices = _latest_prices()
        assert len(prices) == len(master)

        # Benchmark weights sum to exactly 1.
        assert sum(BenchmarkWeight.objects.values_list("weight", flat=True)) == Decimal(1)

        # Models: sleeves sum to 1, holdings within a sleeve sum to 1, the special kinds are wired.
        assert ModelVersion.objects.count() == len(MODELS) == ModelPortfolio.objects.count()
        for version in ModelVersion.objects.all():
            sleeves = list(version.sleeves.all())
            assert sum(s.weight for s in sleeves) == Decimal(1), version
            for sleeve in sleeves:
                holdings = list(sleeve.holdings.values_list("weight", flat=True))
                if sleeve.kind == Sleeve.Kind.HOLDINGS:
                    assert sum(holdings) == Decimal(1), sleeve
                else:
                    assert not holdings
        di = Sleeve.objects.get(kind=Sleeve.Kind.DIRECT_INDEX)
        assert di.benchmark.code == "SP500" and di.version.model.code == "tax-managed-equity"
        assert Sleeve.objects.filter(kind=Sleeve.Kind.SUBMODEL).count() == 2

        # Every model and every template is used.
        accounts = list(Account.objects.select_related("household__template", "template", "model"))
        assert {a.model.code for a in accounts} == {m.code for m in MODELS}
        assert {_effective_template(a).code for a in accounts} == {t.code for t in TEMPLATES}
        assert any(a.template is not None for a in accounts)  # an account-level template somewhere

        # Households: ~40% of accounts share one; both advisors have a book.
        sizes = Counter(a.household_id for a in accounts)
        shared = sum(1 for a in accounts if sizes[a.household_id] > 1)
        assert shared == round(0.4 * SMALL)
        advisors = set(HouseholdUserObjectPermission.objects.values_list("user_id", flat=True))
        assert advisors == {advisor1.pk, advisor2.pk}

        # Lots: gains and losses, short- and long-term.
        lots = list(TaxLot.objects.all())
        value = [lot.quantity * prices[lot.security_id] for lot in lots]
        assert any(v > lot.cost_basis for v, lot in zip(value, lots, strict=True))
        assert any(v < lot.cost_basis for v, lot in zip(value, lots, strict=True))
        year_ago = AS_OF - timedelta(days=365)
        assert any(lot.acquired > year_ago for lot in lots) and any(lot.acquired <= year_ago for lot in lots)
        by_account = defaultdict(list)
        for lot in lots:
            by_account[lot.account_id].append(lot)

        # The direct-indexed group: $1-3M on the tax-managed equity model, 100-200 S&P names.
        members = set(BenchmarkWeight.objects.values_list("security_id", flat=True))
        direct = [a for a in accounts if _effective_template(a).code == "direct-index-us-large-cap"]
        assert direct
        for account in direct:
            assert account.model.code == "tax-managed-equity"
            names = {lot.security_id for lot in by_account[account.pk]} & members
            assert 90 <= len(names) <= 200
            total = sum(lot.quantity * prices[lot.security_id] for lot in by_account[account.pk]) + account.cash
            assert 900_000 <= total <= 3_100_000

        # The ESG group holds fossil-fuel names for the screen to sell.
        fossil = {s.pk for s in master.values() if "fossil_fuels" in s.tags}
        esg = [a for a in accounts if _effective_template(a).code == "esg-no-fossil-fuels"]
        assert {a.model.code for a in esg} >= {"tax-managed-equity", "growth-80-20"}
        assert all(any(lot.security_id in fossil for lot in by_account[a.pk]) for a in esg)

        # The legacy transition group: holdings outside the model, with large embedded gains.
        model_symbols = defaultdict(set)
        for code, symbol in SleeveHolding.objects.values_list("sleeve__version__model__code", "security__symbol"):
            model_symbols[code].add(master[symbol].pk)
        transition = [a for a in accounts if _effective_template(a).code == "tax-managed-transition"]
        assert transition
        group_value = group_cost = 0
        for account in transition:
            legacy = [lot for lot in by_account[account.pk] if lot.security_id not in model_symbols[account.model.code]]
            legacy_value = sum(lot.quantity * prices[lot.security_id] for lot in legacy)
            legacy_cost = sum(lot.cost_basis for lot in legacy)
            assert legacy and legacy_value > Decimal("1.2") * legacy_cost
            group_value, group_cost = group_value + legacy_value, group_cost + legacy_cost
        assert group_value > Decimal("1.6") * group_cost

        # A household with a recent loss sale, and another of its accounts that wants to buy it back.
        window = AS_OF - timedelta(days=30)
        loss_sales = TradeRecord.objects.filter(side="sell", realised_gain__lt=0, trade_date__gte=window)
        assert loss_sales.exists()
        sale = loss_sales.select_related("account").first()
        others = Account.objects.filter(household_id=sale.account.household_id).exclude(pk=sale.account_id)
        assert TaxLot.objects.filter(account__in=others, security_id=sale.security_id).exists()
        assert TradeRecord.objects.filter(side="buy", trade_date__gte=window).exists()

        # Overrides stay within their template's limits, and the effective parameters are valid.
        assert any(a.overrides for a in accounts)
        for account in accounts:
            template = _effective_template(account)
            assert not override_problems(account.overrides, template.code)
            assert not override_problems(account.household.overrides, account.household.template.code)
            merged = merge_parameter_dicts(template.parameters, account.household.overrides)
            Parameters.from_dict(merge_parameter_dicts(merged, account.overrides))

        # The custodian numbers carry the firm's prefix.
        assert all(a.custodian_number.startswith("FIR-") for a in accounts)


def test_every_template_passes_the_engine_validation(firm_a):
    for spec in TEMPLATES:
        Parameters.from_dict(spec.parameters)
    _seed(firm_a)
    with schema_context(firm_a.schema_name):
        templates = list(ParameterTemplate.objects.all())
        assert {t.code for t in templates} == {t.code for t in TEMPLATES}
        for template in templates:
            params = Parameters.from_dict(template.parameters)
            assert template.overridable
            if template.code == "esg-no-fossil-fuels":
                assert params.screen.excluded_tags == ("fossil_fuels",) and params.screen.rescale == "pro_rata"
            if template.code == "tax-managed-transition":
                assert params.transition.max_net_gain_per_year > 0
            if template.code == "year-round-harvesting":
                assert params.harvest.substitutes["VEA"] == "IEFA"
            if template.code == "remove-real-estate":
                assert params.removed_asset_classes == ("real_estate",)
            if template.code == "direct-index-us-large-cap":
                assert params.direct_index[0].sleeve == "us_large_cap" and params.direct_index[0].max_names


def test_seeding_twice_changes_nothing(firm_a):
    first = _seed(firm_a)
    with schema_context(firm_a.schema_name):
        before = _book_digest()
    second = _seed(firm_a)
    assert first.created and not second.created
    assert second.counts() == first.counts() and second == first.__class__(**{**first.__dict__, "created": False})
    with schema_context(firm_a.schema_name):
        assert _book_digest() == before
    # A firm with data of its own is never seeded over, whatever the arguments.
    third = _seed(firm_a, accounts=60, seed=1)
    assert not third.created and third.counts() == first.counts()


def test_a_firms_book_stays_in_its_schema(firm_a, firm_b):
    summary = _seed(firm_a)
    with schema_context(firm_b.schema_name):
        assert not Security.objects.exists() and not Account.objects.exists() and not TaxLot.objects.exists()
    other = _seed(firm_b, accounts=25)
    assert other.created and other.accounts == 25 and other.schema_name == firm_b.schema_name
    with schema_context(firm_a.schema_name):
        assert Account.objects.count() == summary.accounts == SMALL


def test_without_advisors_households_have_none(firm_b):
    _seed(firm_b)
    with schema_context(firm_b.schema_name):
        assert Household.objects.exists()
        assert not HouseholdUserObjectPermission.objects.exists()


def test_the_book_is_deterministic_for_a_seed(firm_a, firm_b):
    market = build_market(AS_OF)
    one = build_book(market, prefix="ACM", accounts=SMALL, seed=7)
    two = build_book(build_market(AS_OF), prefix="ACM", accounts=SMALL, seed=7)
    assert one == two
    assert build_book(market, prefix="ACM", accounts=SMALL, seed=8).lots != one.lots
    # Through the database: two firms seeded alike hold the same book (but for ids and prefixes).
    _seed(firm_a, seed=7)
    _seed(firm_b, seed=7)
    with schema_context(firm_a.schema_name):
        a = _book_digest(prefix_free=True)
    with schema_context(firm_b.schema_name):
        b = _book_digest(prefix_free=True)
    assert a == b


def test_every_program_is_used_even_in_a_small_book():
    book = build_book(build_market(AS_OF), prefix="TST", accounts=20, seed=3)
    assert {a.program for a in book.accounts} == {p.code for p in PROGRAMS}
    assert len(book.accounts) == 20
    with pytest.raises(ValueError):
        build_book(build_market(AS_OF), prefix="TST", accounts=5, seed=3)


def test_a_failed_seed_writes_nothing(firm_a):
    with pytest.raises(ValueError):
        _seed(firm_a, accounts=5)
    with schema_context(firm_a.schema_name):
        assert not Security.objects.exists() and not Price.objects.exists()


def test_the_as_of_date_is_the_last_business_day():
    assert demo_as_of(date(2026, 11, 28)) == date(2026, 11, 27)  # Saturday -> Friday
    assert demo_as_of(date(2026, 11, 29)) == date(2026, 11, 27)  # Sunday -> Friday
    assert demo_as_of(date(2026, 11, 30)) == date(2026, 11, 30)  # Monday
    market = build_market(date(2026, 11, 30))
    assert market.days[-1] == date(2026, 11, 30) and all(d.weekday() < 5 for d in market.days)


def test_the_demo_has_households_managed_as_one_that_a_run_solves_whole(firm_a, firm_user):
    from rebalancing.models import HouseholdProposal
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    firm_user(firm_a, f"advisor1@{firm_a.slug}.example", FirmRole.ADVISOR)
    firm_user(firm_a, f"advisor2@{firm_a.slug}.example", FirmRole.ADVISOR)
    _seed(firm_a, unit_households=True)
    with schema_context(firm_a.schema_name):
        units = list(Household.objects.filter(managed_as="household").order_by("external_id"))
        assert len(units) == 3 and all(h.model.code == "balanced-60-30-10" and h.advisors for h in units)
        statuses = sorted(units[0].accounts.values_list("tax_status", flat=True))
        assert statuses == ["roth", "taxable", "traditional", "traditional"]
        # The Lindqvists' last year's RMD was missed (Erik's IRA knows both years' values): open, with its excise
        from rebalancing.services.rmd import rmd_due_for_household

        missed = [line for line in rmd_due_for_household(units[0], as_of=AS_OF) if line.missed]
        assert [(line.account.custodian_number[-4:], line.year) for line in missed] == [("IRA1", AS_OF.year - 1)]
        assert missed[0].excise == (missed[0].shortfall * Decimal("0.25")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        run = run_start(scope=RunScope(household_id=units[0].pk), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        together = HouseholdProposal.objects.get(run=run)
        assert together.proposals.count() == 4 and together.drift_after < together.drift_before
        bonds = together.result["allocation_after"]["us_aggregate_bonds"]
        taxable = next(a.custodian_number for a in units[0].accounts.all() if a.tax_status == "taxable")
        assert bonds.get(taxable, 0) < sum(bonds.values()) / 2  # bonds mostly in the IRAs and Roth
        # The Novaks file separately: the joint account half on each return, each IRA its owner's, and
        # the second spouse's own carried loss reaches the joint account's solve (half its results on
        # that return), with both returns' $1,500 limits
        from rebalancing.engine_inputs import rebalance_inputs_load

        novak = units[2]
        assert novak.files_separately and novak.opening_carryover("second") == (Decimal("4200"), Decimal("1800"))
        assert novak.past_statuses == ((AS_OF.year - 1, "married_joint"),)  # jointly until last year
        assert dict(novak.accounts.values_list("custodian_number", "spouse")) == {
            f"{novak.external_id}-JT": "joint", f"{novak.external_id}-IRA1": "first",
            f"{novak.external_id}-IRA2": "second", f"{novak.external_id}-ROTH": "second"}
        joint = novak.accounts.get(tax_status="taxable")
        account = rebalance_inputs_load([joint.pk], as_of=AS_OF)[0].request.account
        second = next(r for r in account.tax_returns if r.id == "second")
        assert (second.carried_short, second.carried_long, second.share) == (4200.0, 1800.0, 0.5)
        assert [(r.id, r.loss_limit) for r in account.tax_returns] == [("first", 1500.0), ("second", 1500.0)]


def test_the_demo_seeds_the_firms_risk_model_that_direct_indexed_accounts_are_tracked_with(firm_a):
    from rebalancing.engine.risk_estimation import MIN_OBSERVATIONS
    from rebalancing.engine_inputs import rebalance_inputs_load
    from rebalancing.models import RiskModelVersion
    from rebalancing.selectors import risk_model_current
    from tenants.audit.models import AuditEvent

    summary = _seed(firm_a)

    assert summary.risk_models == 1
    with schema_context(firm_a.schema_name):
        version = RiskModelVersion.objects.get()
        # The nightly refresh's estimate over its whole window: every security has all 260 days.
        assert version.as_of == AS_OF and version.observations == version.window_days > MIN_OBSERVATIONS
        assert version.security_count == Security.objects.count() and version.created_by is None
        assert risk_model_current(AS_OF) == (version, "")
        assert AuditEvent.objects.filter(action="risk_model.estimate", object_id=str(version.pk)).count() == 1
        direct = Account.objects.filter(model__code="tax-managed-equity").order_by("pk").first()
        [inputs] = rebalance_inputs_load([direct.pk], as_of=AS_OF)
        assert inputs.risk_model_version_id == version.pk and inputs.risk_model_note == ""


def test_the_generated_books_traditional_iras_carry_their_rmd_facts_so_the_rmd_report_computes_them(firm_a):
    from rebalancing.services.rmd import rmds_owed

    _seed(firm_a, accounts=120)
    with schema_context(firm_a.schema_name):
        iras = list(Account.objects.filter(tax_status="traditional"))
        rows = rmds_owed(Account.objects.all(), as_of=AS_OF)
    # Every generated IRA names its owner (one of the household's two people, 50 to 84 years old)
    # and holds last 31 December's value
    assert iras and all(a.owner_name and a.owner_birth_date and a.year_end_value(AS_OF.year - 1) > 0 for a in iras)
    assert all(50 <= AS_OF.year - a.owner_birth_date.year <= 84 for a in iras)
    # so the book's RMD report computes every one it lists: some owners are past their start age
    # (73 for those born 1951-59), and those below it owe nothing yet
    assert rows and all(r.required is not None and not r.problem for r in rows)
    owners = {(a.household_id, a.owner_name) for a in iras if AS_OF.year - a.owner_birth_date.year >= 73}
    assert {(r.household.pk, r.owner) for r in rows} == owners


def test_the_demos_iras_carry_the_ordinary_rate_without_the_niit():
    # An IRA's short-term rate is what its distributions are taxed at: ordinary income (IRC §408(d)(1)),
    # never net investment income (IRC §1411(c)(5)), so 37% in the top bracket where its household's
    # taxable accounts carry 40.8% (37% + 3.8% NIIT) on their gains
    book = build_book(build_market(AS_OF), prefix="TST", accounts=400, seed=5)
    iras = [a for a in book.accounts if not a.taxable]
    assert iras and max(a.short_term_rate for a in iras) == Decimal("0.37")
    top = {a.household for a in book.accounts if a.taxable and a.short_term_rate == Decimal("0.408")}
    assert {a.short_term_rate for a in iras if a.household in top} == {Decimal("0.37")}
    assert any(a.taxable and a.short_term_rate == Decimal("0.408") for a in book.accounts)
