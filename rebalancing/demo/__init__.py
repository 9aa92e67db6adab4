"""The demo book of business: a realistic book per firm, seeded after ``tenants.demo``.

``seed_demo_book(firm_slug="acme")`` fills an empty firm schema with a security master of the real
S&P 500 members and a fund lineup, ~260 days of prices, the risk model estimated from them, an S&P
500 benchmark, five models, six parameter templates and ``accounts`` accounts in households with
tax lots and recent trades. It is idempotent (a firm that already has securities or accounts is
left as it is), deterministic for a seed and an as-of date, and writes in bulk. What is real and
what is synthetic: docs/demo-data.md.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

__all__ = ["DemoBookSummary", "demo_as_of", "seed_demo_book"]


@dataclass(frozen=True)
class DemoBookSummary:
    """What the firm's demo book holds (counts read back from its schema)."""

    firm_slug: str
    schema_name: str
    created: bool  # False: the book (or other data) was already there and nothing was written
    as_of: date | None  # the latest price date
    securities: int
    prices: int
    benchmark_weights: int
    models: int
    templates: int
    households: int
    accounts: int
    lots: int
    trades: int
    risk_models: int  # versions of the firm's risk model
    seconds: float = field(default=0.0, compare=False)

    def counts(self) -> dict[str, int]:
        data = asdict(self)
        return {k: v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def demo_as_of(today: date | None = None) -> date:
    """The demo's as-of date: the last business day (weekday) on or before today."""
    from .market import last_business_day

    return last_business_day(today or timezone.localdate())


def _default_seed(firm_slug: str) -> int:
    return zlib.crc32(firm_slug.encode())


def _prefix(firm_slug: str) -> str:
    letters = "".join(c for c in firm_slug.upper() if c.isalnum())
    return (letters[:3] or "DMO").ljust(3, "X")


def seed_demo_book(
    *, firm_slug: str, accounts: int = 300, seed: int | None = None, as_of: date | None = None,
    unit_households: bool = False,
) -> DemoBookSummary:
    """Seed the firm's demo book in its schema (idempotent); returns what the schema holds.

    ``seed`` defaults to one derived from the slug (each firm its own book, the same every time);
    ``as_of`` defaults to the last business day on or before today. ``unit_households``: add the
    households managed as one (``demo.households``: a joint account, two IRAs and a Roth each).
    """
    from django_tenants.utils import schema_context

    from tenants.models import Firm

    started = time.monotonic()
    firm = Firm.objects.get(slug=firm_slug)
    as_of = demo_as_of(as_of)
    seed = _default_seed(firm_slug) if seed is None else seed
    with schema_context(firm.schema_name), transaction.atomic():
        with connection.cursor() as cursor:  # two seeds of one firm at once: the second waits, then sees the first's
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"demo-book:{firm.schema_name}".encode())])
        created = not _has_book()
        if created:
            _write_book(firm_slug=firm_slug, accounts=accounts, seed=seed, as_of=as_of,
                        unit_households=unit_households)
        return _summary(firm, created, time.monotonic() - started)


def _has_book() -> bool:
    from rebalancing.models import Account, Security

    return Security.objects.exists() or Account.objects.exists()


def _summary(firm, created: bool, seconds: float) -> DemoBookSummary:
    from rebalancing import models as m

    return DemoBookSummary(
        firm_slug=firm.slug, schema_name=firm.schema_name, created=created,
        as_of=m.Price.objects.aggregate(d=Max("date"))["d"],
        securities=m.Security.objects.count(), prices=m.Price.objects.count(),
        benchmark_weights=m.BenchmarkWeight.objects.count(), models=m.ModelPortfolio.objects.count(),
        templates=m.ParameterTemplate.objects.count(), households=m.Household.objects.count(),
        accounts=m.Account.objects.count(), lots=m.TaxLot.objects.count(), trades=m.TradeRecord.objects.count(),
        risk_models=m.RiskModelVersion.objects.count(), seconds=round(seconds, 3),
    )


def _copy_rows(model, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert many rows with PostgreSQL COPY (psycopg 3), in the current schema and transaction."""
    qn = connection.ops.quote_name
    fields = [model._meta.get_field(c) for c in columns]
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if not hasattr(raw, "copy"):  # not psycopg 3: plain bulk inserts
            model.objects.bulk_create(
                (model(**{f.attname: v for f, v in zip(fields, row, strict=True)}) for row in rows),
                batch_size=5000,
            )
            return
        with raw.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


# The firm's restricted list (compliance keeps it on /restricted/): one entry in force, one lifted.
_RESTRICTED = (
    ("WFC", "do_not_buy", "The firm is advising the issuer on a pending transaction (inside information).", -20, None),
    ("BA", "do_not_trade", "Research analyst's rating change under embargo.", -90, -60),
)


def _restricted_list_seed(sid: dict[str, int], as_of: date) -> None:
    from datetime import timedelta

    from rebalancing.models import RestrictedSecurity

    RestrictedSecurity.objects.bulk_create([
        RestrictedSecurity(security_id=sid[symbol], restriction=kind, reason=reason,
                           starts_on=as_of + timedelta(days=start),
                           **({"lifted_on": as_of + timedelta(days=lifted),
                               "lift_reason": "The rating change was published."} if lifted is not None else {}))
        for symbol, kind, reason, start, lifted in _RESTRICTED if symbol in sid
    ])


def _write_book(*, firm_slug: str, accounts: int, seed: int, as_of: date, unit_households: bool = False) -> None:
    from rebalancing.engine import Parameters
    from rebalancing.models import (
        Account,
        Benchmark,
        BenchmarkWeight,
        Household,
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

    from .book import build_book
    from .catalogue import MODELS, TEMPLATES
    from .market import BENCHMARK_CODE, FUND_SUBSTITUTES, HISTORY_DAYS, build_market

    market = build_market(as_of)
    book = build_book(market, prefix=_prefix(firm_slug), accounts=accounts, seed=seed)

    securities = Security.objects.bulk_create([
        Security(symbol=s.symbol, name=s.name, asset_class=s.asset_class, sector=s.sector, is_fund=s.is_fund,
                 tags=list(s.tags), esg_score=s.esg_score, fractional=s.fractional,
                 equivalence_group=s.equivalence_group)
        for s in market.securities
    ])
    sid = {s.symbol: s.pk for s in securities}
    # The firm-wide harvest substitutes (the templates below name the same pairs for themselves).
    Security.objects.bulk_update([
        Security(pk=sid[symbol], harvest_substitute_id=sid[substitute])
        for symbol, substitute in FUND_SUBSTITUTES.items() if symbol in sid and substitute in sid
    ], ["harvest_substitute"])
    _restricted_list_seed(sid, as_of)
    history = market.history
    _copy_rows(Price, ("security", "date", "close"), (
        (sid[symbol], day, f"{close:.4f}")
        for symbol in sid
        for day, close in zip(history, market.paths[symbol][-HISTORY_DAYS:].tolist(), strict=True)
    ))

    benchmark = Benchmark.objects.create(code=BENCHMARK_CODE, name="S&P 500 (demo weights)")
    BenchmarkWeight.objects.bulk_create([
        BenchmarkWeight(benchmark=benchmark, date=as_of, security_id=sid[symbol], weight=weight)
        for symbol, weight in market.benchmark_weights.items()
    ])

    models = {p.code: p for p in ModelPortfolio.objects.bulk_create([
        ModelPortfolio(code=spec.code, name=spec.name, description=spec.description) for spec in MODELS
    ])}
    versions = {v.model.code: v for v in ModelVersion.objects.bulk_create([
        ModelVersion(model=models[spec.code], number=1, note="Demo book") for spec in MODELS
    ])}
    sleeve_specs = [(spec.code, sleeve) for spec in MODELS for sleeve in spec.sleeves]
    sleeves = Sleeve.objects.bulk_create([
        Sleeve(version=versions[code], asset_class=s.asset_class, weight=s.weight, kind=s.kind,
               benchmark=benchmark if s.benchmark else None,
               submodel=models[s.submodel] if s.submodel else None)
        for code, s in sleeve_specs
    ])
    SleeveHolding.objects.bulk_create([
        SleeveHolding(sleeve=sleeve, security_id=sid[symbol], weight=weight)
        for sleeve, (_, spec) in zip(sleeves, sleeve_specs, strict=True)
        for symbol, weight in spec.holdings.items()
    ])

    for spec in TEMPLATES:
        Parameters.from_dict(spec.parameters)  # raises InvalidRequest naming the bad key
    templates = {t.code: t for t in ParameterTemplate.objects.bulk_create([
        ParameterTemplate(code=t.code, name=t.name, description=t.description, parameters=t.parameters,
                          overridable=t.overridable)
        for t in TEMPLATES
    ])}

    from rebalancing.services.people import advisors_grant_bulk

    User = get_user_model()
    slug = firm_slug
    advisors = dict(User.objects.filter(username__in=[f"advisor1@{slug}.example", f"advisor2@{slug}.example"])
                    .values_list("username", "pk"))
    advisor_ids = [advisors.get(f"advisor1@{slug}.example"), advisors.get(f"advisor2@{slug}.example")]
    households = Household.objects.bulk_create([
        Household(name=h.name, external_id=h.external_id, template=templates[h.template], overrides=h.overrides)
        for h in book.households
    ])
    advisors_grant_bulk((hh.pk, advisor_ids[h.advisor_slot]) for hh, h in zip(households, book.households, strict=True))
    account_rows = Account.objects.bulk_create([
        Account(custodian_number=a.custodian_number, name=a.name, household=households[a.household],
                model=models[a.model], template=templates[a.template] if a.template else None,
                overrides=a.overrides, tax_status=a.tax_status, discretionary=a.discretionary,
                short_term_rate=a.short_term_rate, long_term_rate=a.long_term_rate, cash=a.cash,
                realised_short_term_ytd=a.realised_short_term_ytd, realised_long_term_ytd=a.realised_long_term_ytd,
                opened_on=a.opened_on, owner_name=a.owner_name, owner_birth_date=a.owner_birth_date,
                year_end_values=a.year_end_values)
        for a in book.accounts
    ], batch_size=1000)
    account_ids = [a.pk for a in account_rows]
    _copy_rows(TaxLot, ("account", "lot_id", "security", "quantity", "cost_basis", "acquired"), (
        (account_ids[lot.account], lot.lot_id, sid[lot.symbol], lot.quantity, lot.cost_basis, lot.acquired)
        for lot in book.lots
    ))
    TradeRecord.objects.bulk_create([
        TradeRecord(account_id=account_ids[t.account], security_id=sid[t.symbol], side=t.side, quantity=t.quantity,
                    price=t.price, trade_date=t.trade_date, realised_gain=t.realised_gain, external_id=t.external_id)
        for t in book.trades
    ], batch_size=2000)
    # The firm's risk model from the prices just written, as the nightly refresh would estimate it
    # (its 126-day window fits the 260 days stored), so the Risk model page and the first run's
    # proposals have a version from the start.
    from rebalancing.services.risk_models import risk_model_estimate

    risk_model_estimate(as_of=as_of)
    if unit_households:
        from .households import unit_households_write

        unit_households_write(prefix=_prefix(firm_slug), sid=sid, models=models, templates=templates,
                              advisor_ids=advisor_ids, as_of=as_of,
                              closes={s: float(market.paths[s][-1]) for s in ("VOO", "VEA", "VB", "VWO", "BND", "SCHP")})
