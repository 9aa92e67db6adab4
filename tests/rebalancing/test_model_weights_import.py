"""The model weights file: each model in it gets one new version through the model page's service
(``model_version_create``), every model or none; a bad file is refused naming each row and column."""

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from rebalancing.imports import ImportRejected, book_import, model_weights
from rebalancing.models import ModelPortfolio, ModelVersion, Security
from rebalancing.services import book as book_services
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole
from tests.rebalancing.book import make_model, make_securities

pytestmark = pytest.mark.django_db

HEADER = "model,asset_class,sleeve_weight,symbol,weight\n"
GOOD = HEADER + (
    "balanced,us_equity,70,VTI,60\n"
    "balanced,us_equity,70,ITOT,40\n"
    "balanced,bonds,30%,BND,100%\n"
    "income,bonds,80,BND,50\n"
    "income,bonds,80,AGG,50\n"
    "income,real_estate,20,VNQ,100\n"
)


@pytest.fixture
def firm(firm_a, firm_user):
    admin = firm_user(firm_a, "admin@weights.example", FirmRole.FIRM_ADMIN)
    pm = firm_user(firm_a, "pm@weights.example", FirmRole.PORTFOLIO_MANAGER)
    with schema_context(firm_a.schema_name):
        make_securities()
        make_model("balanced")
        make_model("income", sleeves=(("bonds", "0.9", {"BND": "1"}), ("real_estate", "0.1", {"VNQ": "1"})))
        yield {"admin": admin, "pm": pm}


def versions() -> dict[str, int]:
    return {m.code: m.versions.count() for m in ModelPortfolio.objects.all()}


def sleeves_of(code: str) -> dict:
    version = ModelPortfolio.objects.get(code=code).versions.order_by("-number").first()
    return {s.asset_class: (s.weight, {h.security.symbol: h.weight for h in s.holdings.all()})
            for s in version.sleeves.prefetch_related("holdings__security")}


def run(text: str | bytes, user):
    data = text.encode() if isinstance(text, str) else text
    return book_import(kind="model_weights", source=data, by=user)


def refused(text: str | bytes, user) -> list[tuple]:
    before = versions()
    with pytest.raises(ImportRejected) as excinfo:
        run(text, user)
    assert versions() == before  # nothing written, not even the file's good models
    assert excinfo.value.detail["kind"] == "model_weights"
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


def test_a_file_writes_one_version_per_model_through_the_model_service(firm, monkeypatch):
    calls = []
    real = book_services.model_version_create

    def spy(**kwargs):
        calls.append(kwargs["model"].code)
        return real(**kwargs)

    monkeypatch.setattr(model_weights, "model_version_create", spy)
    summary = run(GOOD, firm["admin"])

    assert calls == ["balanced", "income"]
    assert versions() == {"balanced": 2, "income": 2}
    assert (summary.kind, summary.rows, summary.created, summary.unchanged) == ("model_weights", 6, 2, 0)
    assert sleeves_of("balanced") == {
        "us_equity": (Decimal("0.7"), {"VTI": Decimal("0.6"), "ITOT": Decimal("0.4")}),
        "bonds": (Decimal("0.3"), {"BND": Decimal("1")}),
    }
    assert sleeves_of("income") == {
        "bonds": (Decimal("0.8"), {"BND": Decimal("0.5"), "AGG": Decimal("0.5")}),
        "real_estate": (Decimal("0.2"), {"VNQ": Decimal("1")}),
    }
    assert any("Model “Balanced” (balanced): version 2 written" in note for note in summary.notes)
    latest = ModelVersion.objects.filter(model__code="balanced").order_by("-number").first()
    assert latest.created_by == firm["admin"] and latest.note == "imported from a file"
    events = AuditEvent.objects.filter(action="model.version")
    assert events.count() == 2 and {e.actor for e in events} == {firm["admin"].username}


def test_the_same_file_again_writes_nothing_and_says_so_per_model(firm):
    run(GOOD, firm["admin"])
    events = AuditEvent.objects.count()
    changed_income = GOOD.replace("income,bonds,80,BND,50", "income,bonds,80,BND,40").replace(
        "income,bonds,80,AGG,50", "income,bonds,80,AGG,60")

    summary = run(changed_income, firm["admin"])

    assert versions() == {"balanced": 2, "income": 3}
    assert (summary.created, summary.unchanged) == (1, 1)
    assert any("(balanced): nothing changed" in n and "version 2" in n for n in summary.notes)
    assert any("(income): version 3 written" in n for n in summary.notes)
    assert AuditEvent.objects.count() == events + 1  # income's version only
    again = run(changed_income, firm["admin"])
    assert (again.created, again.unchanged) == (0, 2) and versions() == {"balanced": 2, "income": 3}


BAD = [
    pytest.param("nope,us_equity,100,VTI,100\n", 2, "model", "model 'nope' is not known", id="unknown-model"),
    pytest.param("balanced,us_equity,60,VTI,100\nbalanced,bonds,40,ZZZZ,100\n", 3, "symbol",
                 "symbol 'ZZZZ' is not known", id="unknown-symbol"),
    pytest.param("balanced,us_equity,60,VTI,110\nbalanced,us_equity,60,ITOT,-10\nbalanced,bonds,40,BND,100\n", 3,
                 "weight", "-10 is negative", id="negative-weight"),
    pytest.param("balanced,us_equity,-60,VTI,100\nbalanced,bonds,40,BND,100\n", 2, "sleeve_weight", "-60 is negative",
                 id="negative-sleeve-weight"),
    pytest.param("balanced,us_equity,60,VTI,lots\nbalanced,bonds,40,BND,100\n", 2, "weight", "'lots' is not a number",
                 id="non-numeric-weight"),
    pytest.param("balanced,us_equity,sixty,VTI,100\nbalanced,bonds,40,BND,100\n", 2, "sleeve_weight",
                 "'sixty' is not a number", id="non-numeric-sleeve-weight"),
    pytest.param("balanced,us_equity,60,VTI,100\nbalanced,bonds,30,BND,100\n", 2, "sleeve_weight",
                 "the sleeve weights of model balanced sum to 90% (us_equity 60%, bonds 30%); they must sum to 100%",
                 id="sleeves-not-100"),
    pytest.param("balanced,us_equity,0.6,VTI,100\nbalanced,bonds,0.4,BND,100\n", 2, "sleeve_weight",
                 "(weights are in percent: write 60 for 60%, not 0.6)", id="fractions-not-percent"),
    pytest.param("balanced,us_equity,60,VTI,50\nbalanced,us_equity,60,ITOT,40\nbalanced,bonds,40,BND,100\n", 2,
                 "weight", "the holdings of sleeve us_equity of model balanced sum to 90% over 2 rows from this one",
                 id="holdings-not-100"),
    pytest.param("balanced,us_equity,60,VTI,50\nbalanced,us_equity,50,ITOT,50\nbalanced,bonds,40,BND,100\n", 3,
                 "sleeve_weight", "sleeve us_equity of model balanced has the weight 60% in row 5 and 50% here",
                 id="sleeve-weight-differs"),
    pytest.param("balanced,us_equity,60,VTI,50\nbalanced,us_equity,60,vti,50\nbalanced,bonds,40,BND,100\n", 3,
                 "symbol", "repeats the model, asset class and symbol", id="symbol-twice-in-a-sleeve"),
    pytest.param("balanced,us_equities,60,VTI,100\nbalanced,bonds,40,BND,100\n", 2, "asset_class",
                 "unknown asset class 'us_equities'", id="unknown-asset-class"),
    pytest.param("balanced,US equity,60,VTI,100\nbalanced,bonds,40,BND,100\n", 2, "asset_class",
                 "(did you mean us_equity?)", id="asset-class-in-words"),
    pytest.param("balanced,us_equity,60,VTI,100\nbalanced,bonds,40,BND,0\n", 3, "weight", "leave a sleeve or holding "
                 "of 0% out of the file", id="zero-weight"),
    pytest.param("balanced,us_equity,60,,100\nbalanced,bonds,40,BND,100\n", 2, "symbol", "is empty", id="no-symbol"),
]


@pytest.mark.parametrize(("rows", "row", "column", "words"), BAD)
def test_a_bad_file_is_refused_naming_row_and_column_and_nothing_is_written(firm, rows, row, column, words):
    # Each bad file also carries a good model, which must not be written either.
    good_income = "income,bonds,80,BND,50\nincome,bonds,80,AGG,50\nincome,real_estate,20,VNQ,100\n"
    problems = refused(HEADER + good_income + rows, firm["admin"])
    shifted = row + 3  # the income rows come first
    assert any(r == shifted and c == column and words in p for r, c, p in problems), problems


def test_every_problem_of_a_file_is_named_at_once(firm):
    problems = refused(HEADER + "nope,us_equity,100,VTI,100\nbalanced,us_equity,60,VTI,x\n"
                       "balanced,bonds,40,QQQQ,100\n", firm["admin"])
    assert [(r, c) for r, c, _p in problems] == [(2, "model"), (3, "weight"), (4, "symbol")]


def test_a_refusal_by_the_service_names_the_model_and_undoes_the_models_written_before(firm, monkeypatch):
    real = book_services.model_version_create

    def refuse_income(**kwargs):
        if kwargs["model"].code == "income":
            raise ValidationFailed("The model was not saved: sleeve bonds is still held to by an account")
        return real(**kwargs)

    monkeypatch.setattr(model_weights, "model_version_create", refuse_income)
    problems = refused(GOOD, firm["admin"])  # balanced's version 2 was written, then undone

    assert problems == [(5, "model", "model income: The model was not saved: sleeve bonds is still held to by an "
                                     "account")]
    assert not AuditEvent.objects.filter(action="model.version").exists()


def test_a_model_holding_a_sleeve_the_file_cannot_describe_is_refused(firm):
    income = ModelPortfolio.objects.get(code="income")
    sleeve = income.versions.get().sleeves.get(asset_class="real_estate")
    sleeve.kind, sleeve.submodel = "submodel", ModelPortfolio.objects.get(code="balanced")
    sleeve.save()
    problems = refused(GOOD, firm["admin"])
    assert problems == [(5, "model", "model income's version 1 holds sleeves this file cannot describe: real_estate "
                                     "(held as another model); a file lists holdings only, so change this model on its page")]


def test_a_windows_1252_file_is_read_as_the_other_kinds_read_it(firm):
    Security.objects.create(symbol="CAC", name="CAC 40 fund", asset_class="actions_européennes", is_fund=True)
    text = HEADER + "balanced,us_equity,60,VTI,100\nbalanced,actions_européennes,40,CAC,100\n"

    summary = run(text.encode("cp1252"), firm["admin"])

    assert summary.created == 1 and set(sleeves_of("balanced")) == {"us_equity", "actions_européennes"}
    utf16 = HEADER + "balanced,us_equity,60,VTI,100\nbalanced,actions_européennes,40,CAC,100\n"
    assert run(b"\xff\xfe" + utf16.encode("utf-16-le"), firm["admin"]).unchanged == 1


def test_a_file_neither_utf8_nor_windows_1252_is_refused_naming_its_line(firm):
    problems = refused(HEADER.encode() + b"balanced,us_equity,60,VTI,100\nbalanced,bonds\x81,40,BND,100\n",
                       firm["admin"])
    assert problems[0][:2] == (3, None) and "neither UTF-8 nor Windows-1252" in problems[0][2]


def test_only_a_person_who_manages_models_imports_them(firm):
    with pytest.raises(PermissionDenied):
        run(GOOD, firm["pm"])  # a portfolio manager imports files but does not manage models
    with pytest.raises(ValidationFailed, match="imported by a person"):
        book_import(kind="model_weights", source=GOOD.encode(), by="manage.py import_book")
    assert versions() == {"balanced": 1, "income": 1}
