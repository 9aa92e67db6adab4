"""A direct-indexed sleeve holds its benchmark's constituents, so they must be of the sleeve's asset
class, as a holdings sleeve's securities must (``services.book._of_another_class``, one rule for
both): a sleeve "us_large_growth" indexing the S&P 500 of us_large_cap names is refused on the
model page, through the API and in the service, naming the sleeve, the benchmark and the classes."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from rebalancing.models import Benchmark, BenchmarkWeight, ModelVersion, Price, Security, Sleeve
from rebalancing.services.book import SleeveSpec, model_version_create
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole
from tests.rebalancing.book import AS_OF, make_model

pytestmark = pytest.mark.django_db

API = "/api/v1"
CLASSES = ("us_large_cap", "us_large_growth", "us_small_cap")


def _security(symbol: str, asset_class: str) -> Security:
    security = Security.objects.create(symbol=symbol, name=f"{symbol} Inc", asset_class=asset_class)
    Price.objects.create(security=security, date=AS_OF, close=Decimal(50))
    return security


def _benchmark(code: str, name: str, members: list[Security], *, day: date = AS_OF) -> Benchmark:
    benchmark = Benchmark.objects.get_or_create(code=code, defaults={"name": name})[0]
    BenchmarkWeight.objects.bulk_create([BenchmarkWeight(benchmark=benchmark, date=day, security=s,
                                                         weight=Decimal(1) / len(members)) for s in members])
    return benchmark


@pytest.fixture
def firm(firm_a, firm_user):
    admin = firm_user(firm_a, "admin@di-class.example", FirmRole.FIRM_ADMIN)
    with schema_context(firm_a.schema_name):
        large = [_security(f"L{i:02d}", "us_large_cap") for i in range(8)]
        growth = [_security(f"G{i:02d}", "us_large_growth") for i in range(4)]
        small = [_security(f"S{i:02d}", "us_small_cap") for i in range(4)]
        _security("BNDX", "bonds")
        _benchmark("SP500", "S&P 500", large)
        model = make_model("core", sleeves=(("us_large_cap", "0.7", {"L00": "1"}), ("bonds", "0.3", {"BNDX": "1"})))
        yield {"admin": admin, "model": model, "large": large, "growth": growth, "small": small}


def _sleeves(asset_class: str, benchmark: str) -> list[SleeveSpec]:
    return [SleeveSpec(asset_class, Decimal("0.7"), {}, kind=Sleeve.Kind.DIRECT_INDEX, benchmark=benchmark),
            SleeveSpec("bonds", Decimal("0.3"), {"BNDX": Decimal(1)})]


REFUSED_GROWTH = (
    "sleeve us_large_growth is a direct index of benchmark SP500 (S&P 500), 8 of whose 8 constituents are of "
    "another asset class: us_large_cap (L00, L01, L02 and 5 more): a sleeve holds securities of its own asset "
    "class (make it the us_large_cap sleeve, or direct-index a benchmark of us_large_growth securities)")


def test_a_direct_index_of_another_asset_class_is_refused_naming_sleeve_benchmark_and_classes(firm):
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=firm["model"], user=firm["admin"], sleeves=_sleeves("us_large_growth", "SP500"))

    assert refused.value.detail["problems"] == [REFUSED_GROWTH]
    assert ModelVersion.objects.filter(model=firm["model"]).count() == 1  # nothing written
    assert not AuditEvent.objects.filter(action="model.version").exists()
    # The sleeve of the benchmark's own class is saved.
    version = model_version_create(model=firm["model"], user=firm["admin"], sleeves=_sleeves("us_large_cap", "SP500"))
    assert version.number == 2 and version.sleeves.get(asset_class="us_large_cap").benchmark.code == "SP500"


def test_a_benchmark_partly_of_another_class_names_the_strays_by_class(firm):
    _benchmark("MIX", "Mixed", [*firm["large"][:2], *firm["small"][:1], *firm["growth"]])

    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=firm["model"], user=firm["admin"], sleeves=_sleeves("us_large_growth", "MIX"))

    assert refused.value.detail["problems"] == [
        "sleeve us_large_growth is a direct index of benchmark MIX (Mixed), 3 of whose 7 constituents are of another "
        "asset class: us_large_cap (L00, L01); us_small_cap (S00): a sleeve holds securities of its own asset class "
        "(correct their asset class in the security master, or direct-index a benchmark of us_large_growth "
        "securities)"]


def test_the_latest_constituents_are_those_checked(firm):
    # The index once held large caps; since its latest reconstitution only growth names.
    _benchmark("GROW", "Growth", firm["large"][:3], day=AS_OF - timedelta(days=90))
    _benchmark("GROW", "Growth", firm["growth"])

    version = model_version_create(model=firm["model"], user=firm["admin"], sleeves=_sleeves("us_large_growth", "GROW"))

    assert version.number == 2


def test_the_rule_matches_a_plain_reading_over_random_benchmarks(firm):
    # A sleeve may index a benchmark iff every latest constituent is of the sleeve's asset class.
    rng = random.Random(20260)
    pool = [*firm["large"], *firm["growth"], *firm["small"]]
    for case in range(30):
        members = rng.sample(pool, rng.randint(1, 6))
        if rng.random() < 0.4:  # often a benchmark of one class
            one = rng.choice(CLASSES)
            members = [s for s in pool if s.asset_class == one][:rng.randint(1, 4)]
        asset_class = rng.choice(CLASSES)
        _benchmark(f"R{case}", f"Random {case}", members)
        expected_refusal = any(s.asset_class != asset_class for s in members)
        versions = ModelVersion.objects.filter(model=firm["model"]).count()
        try:
            model_version_create(model=firm["model"], user=firm["admin"], sleeves=_sleeves(asset_class, f"R{case}"))
        except ValidationFailed as exc:
            assert expected_refusal, (case, asset_class, [s.symbol for s in members], exc.message)
            strays = sorted(s.symbol for s in members if s.asset_class != asset_class)
            [problem] = exc.detail["problems"]
            assert f"{len(strays)} of whose {len(members)} constituents" in problem
            assert ModelVersion.objects.filter(model=firm["model"]).count() == versions
        else:
            assert not expected_refusal, (case, asset_class, [s.symbol for s in members])
            assert ModelVersion.objects.filter(model=firm["model"]).count() == versions + 1


def test_the_model_page_refuses_it_as_typed(firm, firm_a, client_for):
    form = {"rows": "2", "note": "",
            "s0-asset_class": "us_large_growth", "s0-weight": "70", "s0-kind": "direct_index", "s0-holdings": "",
            "s0-benchmark": "SP500", "s0-submodel": "",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BNDX 100",
            "s1-benchmark": "", "s1-submodel": ""}

    page = client_for(firm_a, firm["admin"]).post(f"/models/{firm['model'].pk}/", form)

    assert page.status_code == 400
    assert "sleeve us_large_growth is a direct index of benchmark SP500 (S&amp;P 500)" in page.content.decode()
    with schema_context(firm_a.schema_name):
        assert ModelVersion.objects.filter(model=firm["model"]).count() == 1


def test_the_api_refuses_it_for_a_new_version_and_a_new_model(firm, firm_a, client_for):
    client = client_for(firm_a, firm["admin"])
    sleeves = [{"asset_class": "us_large_growth", "weight": "0.7", "holdings": {}, "kind": "direct_index",
                "benchmark": "SP500"},
               {"asset_class": "bonds", "weight": "0.3", "holdings": {"BNDX": "1"}}]

    version = client.post(f"{API}/models/{firm['model'].pk}/versions/", {"sleeves": sleeves},
                          content_type="application/json")
    model = client.post(f"{API}/models/", {"code": "growth-di", "name": "Growth DI", "sleeves": sleeves},
                        content_type="application/json")

    for answer in (version, model):
        assert answer.status_code == 400, answer.content
        assert answer.json()["detail"]["problems"] == [REFUSED_GROWTH]
    with schema_context(firm_a.schema_name):
        assert ModelVersion.objects.filter(model=firm["model"]).count() == 1
        assert not ModelVersion.objects.filter(model__code="growth-di").exists()
