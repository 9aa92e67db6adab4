"""The security master file: one row per symbol, upserted by symbol."""

from datetime import date

from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery

from rebalancing.engine import ESG_SCORES
from rebalancing.models import ModelVersion, Security, Sleeve, SleeveHolding

from .cells import (
    INVALID,
    boolean_cells,
    duplicates_report,
    float_cells,
    look_alike_problem,
    symbol_cells,
    tag_cells,
    text_cells,
)
from .report import ImportSummary
from .rows import changes_apply, changes_plan, import_begin, records
from .sheet import Source, sheet_read

__all__ = ["securities_import"]

KIND = "securities"
REQUIRED = ("symbol", "name", "asset_class")
OPTIONAL = ("sector", "is_fund", "tags", "esg_score", "fractional", "equivalence_group")
_field = Security._meta.get_field


@transaction.atomic
def securities_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Create or update securities by symbol (upper-cased). Optional columns left out of the file leave
    the stored values alone; an empty yes/no cell keeps the stored value too."""
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    columns = {
        "symbol": symbol_cells(sheet, "symbol", field=_field("symbol"), required=True),
        "name": _name_cells(sheet),
        "asset_class": text_cells(sheet, "asset_class", field=_field("asset_class"), required=True),
    }
    for name in ("sector", "equivalence_group"):
        if sheet.has(name):
            columns[name] = text_cells(sheet, name, field=_field(name))
    for name in ("is_fund", "fractional"):
        if sheet.has(name):
            columns[name] = boolean_cells(sheet, name)
    if sheet.has("tags"):
        columns["tags"] = tag_cells(sheet, "tags")
    if sheet.has("esg_score"):
        columns["esg_score"] = float_cells(sheet, "esg_score", minimum=ESG_SCORES[0], maximum=ESG_SCORES[1])
    duplicates_report(sheet, {"symbol": columns["symbol"]}, "symbol")
    sheet.problems.reject_if_any()
    _sleeves_keep_their_classes(sheet, columns["symbol"], columns["asset_class"])

    rows = records(columns, keep_when_empty=("is_fund", "fractional"))
    existing = Security.objects.filter(symbol__in=[row["symbol"] for row in rows]).order_by().values(
        "id", *REQUIRED, *OPTIONAL
    )
    changes = changes_plan(rows=rows, existing=existing, key=("symbol",))
    changes_apply(Security, changes)
    if "equivalence_group" in columns:
        _substitutes_stay_outside_their_groups(sheet, columns["symbol"])
    return ImportSummary(KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged)


def _name_cells(sheet):
    """The names, each refused where a word of it mixes scripts (``look_alike_problem``)."""
    values = text_cells(sheet, "name", field=_field("name"), required=True)
    for line, name in values.items():
        problem = None if name is INVALID else look_alike_problem(name)
        if problem is not None:
            sheet.problems.add(line, "name", problem)
            values[line] = INVALID
    return values


def _sleeves_keep_their_classes(sheet, symbols, classes) -> None:
    """Refuse a row moving a security out of the asset class of a model sleeve holding it, as the model
    editor refuses a sleeve holding another class (services/book.py): the sleeve's share would be
    counted, located and removed as the wrong class. Models' current versions only (the older ones
    are history); move the security to its new class's sleeve first, or correct the class."""
    moved = {symbol: new for symbol, new in zip(symbols, classes, strict=True)
             if isinstance(symbol, str) and isinstance(new, str) and new}
    latest = ModelVersion.objects.filter(model=OuterRef("sleeve__version__model")).values("model") \
        .annotate(last=Max("number")).values("last")
    held = (SleeveHolding.objects.filter(security__symbol__in=moved, sleeve__kind=Sleeve.Kind.HOLDINGS,
                                         sleeve__version__number=Subquery(latest))
            .values_list("security__symbol", "sleeve__asset_class", "sleeve__version__model__code")
            .order_by("security__symbol", "sleeve__version__model__code"))
    holders: dict[str, list[str]] = {}
    for symbol, sleeve, model in held:
        if moved[symbol] != sleeve:
            holders.setdefault(symbol, []).append(f"{model}'s {sleeve} sleeve")
    line_of = {symbol: line for line, symbol in symbols.items() if isinstance(symbol, str)}
    for symbol, sleeves in holders.items():
        sheet.problems.add(line_of[symbol], "asset_class",
                           f"{symbol} is held by {', '.join(sleeves)}: a sleeve holds securities of its own asset "
                           f"class, so {symbol} cannot become {moved[symbol]!r}; move it to a {moved[symbol]} sleeve "
                           "in a new model version first, or keep its class")
    sheet.problems.reject_if_any()


def _substitutes_stay_outside_their_groups(sheet, symbols) -> None:
    """Refuse the file (rolling back what it wrote) when it puts a security in the same equivalence group
    as its firm-wide harvest substitute: buying that substitute would be a wash sale (IRS Pub. 550)."""
    line_of = {symbol: line for line, symbol in symbols.items()}
    clashes = (Security.objects.exclude(equivalence_group="")
               .filter(harvest_substitute__equivalence_group=F("equivalence_group"))
               .values_list("symbol", "harvest_substitute__symbol"))
    for symbol, substitute in clashes:
        line = line_of.get(symbol) or line_of.get(substitute)
        sheet.problems.add(line or 1, "equivalence_group",
                           f"{substitute} is {symbol}'s harvest substitute and may not share its group: change the "
                           f"substitute first")
    sheet.problems.reject_if_any()
