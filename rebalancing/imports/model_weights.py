"""The model weights file: a model's sleeves and their holdings, one holding a row; each model in the
file gets one new version through the model page's service (``services.book.model_version_create``)."""

import re
from datetime import date
from decimal import Decimal

import pandas as pd
from django.db import models, transaction

from rebalancing.access import require
from rebalancing.models import ModelPortfolio, Security, Sleeve
from rebalancing.selectors import asset_classes_known
from rebalancing.services.assignments import superseded_words
from rebalancing.services.book import WEIGHT_TOLERANCE, SleeveSpec, model_version_create
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

from .cells import (
    INVALID,
    CellProblem,
    _fit,
    column_parse,
    distinct,
    duplicates_report,
    parse_decimal,
    references_map,
    required_cells,
    text_cells,
    valid,
)
from .report import ImportSummary
from .rows import ids_by, import_begin
from .sheet import Sheet, Source, sheet_read

__all__ = ["model_weights_import"]

KIND = "model_weights"
REQUIRED = ("model", "asset_class", "sleeve_weight", "symbol", "weight")
# A weight in percent as the model page takes it ("60" or "60%"): a sleeve's 8 places of a fraction.
_PERCENT = models.DecimalField(max_digits=9, decimal_places=6)
_HUNDRED = Decimal(100)
_HELD_AS = {Sleeve.Kind.DIRECT_INDEX: "a direct index of a benchmark", Sleeve.Kind.SUBMODEL: "another model"}


def _percent_words(fraction: Decimal) -> str:
    return f"{format((fraction * 100).normalize(), 'f')}%"


def _percent(text: str) -> Decimal:
    """A weight in percent (``60``, ``60%``, ``12.5``) as a fraction (0.6), above 0 and at most 100%."""
    number = text[:-1].rstrip() if text.endswith("%") else text
    value = parse_decimal(number)
    if not value.is_finite():
        raise CellProblem(f"{text!r} is not a finite number")
    if value < 0:
        raise CellProblem(f"{text} is negative: a model holds, it does not short")
    if value > _HUNDRED:
        raise CellProblem(f"{text} is more than 100 (weights are in percent)")
    value = _fit(value, _PERCENT)
    if value == 0:
        raise CellProblem(f"{text} is 0" + (" at 6 decimal places" if parse_decimal(number) else "")
                          + ": leave a sleeve or holding of 0% out of the file")
    return value / _HUNDRED


def _percent_cells(sheet: Sheet, column: str) -> pd.Series:
    return required_cells(sheet, column, column_parse(sheet, column, _percent), "a weight in percent")


def _keys(*columns: pd.Series) -> pd.Series:
    """Row keys (tuples of the columns' values), INVALID where a part was not read."""
    index = columns[0].index
    return pd.Series([tuple(parts) if all(p is not None and p is not INVALID for p in parts) else INVALID
                      for parts in zip(*(c.tolist() for c in columns), strict=True)], index=index, dtype=object)


def _plain(text: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", text.strip().lower()))


def _models_report(sheet: Sheet, codes: pd.Series) -> dict[str, ModelPortfolio]:
    """The file's models by code; an unknown code is refused (a file changes models, the Models page
    creates them), and so is a model whose current version holds a sleeve the file cannot describe."""
    found = {m.code: m for m in ModelPortfolio.objects.filter(code__in=distinct(codes))}
    by_lower = {code.lower(): code for code in ModelPortfolio.objects.values_list("code", flat=True)}
    for line, code in zip(codes.index[valid(codes)], codes[valid(codes)], strict=True):
        if code in found:
            continue
        meant = by_lower.get(code.lower())
        sheet.problems.add(line, "model", f"model {code!r} is not known" + (f" (did you mean {meant}?)" if meant else "")
                           + "; create it on the Models page first: a file gives known models a new version")
    first_line = {code: line for line, code in reversed(list(zip(codes.index, codes, strict=True)))
                  if code in found}
    for code, model in found.items():
        version = model.current_version
        other = [s for s in version.sleeves.all() if s.kind != Sleeve.Kind.HOLDINGS] if version else []
        if other:
            held = ", ".join(f"{s.asset_class} (held as {_HELD_AS.get(s.kind, s.kind)})" for s in other)
            sheet.problems.add(first_line[code], "model",
                               f"model {code}'s version {version.number} holds sleeves this file cannot describe: "
                               f"{held}; a file lists holdings only, so change this model on its page")
    return found


def _asset_classes_report(sheet: Sheet, classes: pd.Series) -> None:
    known = asset_classes_known()
    by_words = {_plain(c): c for c in known}
    listed = (f"the firm's asset classes are {', '.join(sorted(known))}" if known
              else "the firm has no asset class yet: import its securities first")
    for line, name in zip(classes.index[valid(classes)], classes[valid(classes)], strict=True):
        if name not in known:
            meant = by_words.get(_plain(name))
            sheet.problems.add(line, "asset_class", f"unknown asset class {name!r}"
                               + (f" (did you mean {meant}?)" if meant else f"; {listed}"))


def _sleeve_weights(sheet: Sheet, sleeves: pd.Series, weights: pd.Series) -> dict[tuple, Decimal | None]:
    """Each sleeve's weight, given on each of its rows; a row giving another weight is refused (the
    sleeve's weight is then None, so its model is not summed)."""
    given: dict[tuple, tuple] = {}
    for line, key, weight in zip(sleeves.index, sleeves, weights, strict=True):
        if key is INVALID:
            continue
        if weight is INVALID or weight is None:
            given[key] = (None, given.get(key, (None, line))[1])
            continue
        first, first_line = given.setdefault(key, (weight, line))
        if first is not None and first != weight:
            sheet.problems.add(line, "sleeve_weight",
                               f"sleeve {key[1]} of model {key[0]} has the weight {_percent_words(first)} in row "
                               f"{first_line} and {_percent_words(weight)} here; give each of its rows its one weight")
            given[key] = (None, first_line)
    return {key: weight for key, (weight, _line) in given.items()}


def _sums_report(sheet: Sheet, codes: pd.Series, sleeves: pd.Series, weights: pd.Series,
                 sleeve_weight: dict[tuple, Decimal | None]) -> None:
    """Holdings of a sleeve and sleeves of a model must each sum to 100% (within the model page's
    tolerance). Only wholly read groups are summed: a group with an unread weight is reported already."""
    frame = pd.DataFrame({"model": codes, "sleeve": sleeves, "weight": weights})
    for key, group in frame[sleeves.map(lambda k: k is not INVALID).astype(bool)].groupby("sleeve", sort=False):
        if not valid(group["weight"]).all():
            continue
        total = sum(group["weight"], Decimal(0))
        if abs(total - 1) > WEIGHT_TOLERANCE:
            sheet.problems.add(group.index[0], "weight",
                               f"the holdings of sleeve {key[1]} of model {key[0]} sum to {_percent_words(total)} over "
                               f"{len(group)} row{'s' if len(group) != 1 else ''} from this one; they must sum to 100%")
    by_model: dict[str, list] = {}
    for (code, asset_class), weight in sleeve_weight.items():
        by_model.setdefault(code, []).append((asset_class, weight))
    for code, parts in by_model.items():
        if any(weight is None for _c, weight in parts):
            continue  # an unread or differing sleeve weight: reported already
        lines = codes.index[(codes == code).to_numpy()]
        total = sum((weight for _c, weight in parts), Decimal(0))
        if abs(total - 1) > WEIGHT_TOLERANCE:
            hint = " (weights are in percent: write 60 for 60%, not 0.6)" if total <= Decimal("0.01") else ""
            listed = ", ".join(f"{c} {_percent_words(w)}" for c, w in parts)
            sheet.problems.add(lines[0], "sleeve_weight",
                               f"the sleeve weights of model {code} sum to {_percent_words(total)} ({listed}); "
                               f"they must sum to 100%{hint}")


@transaction.atomic
def model_weights_import(*, source: Source, as_of: date | None = None, user, note: str = "") -> ImportSummary:
    """Give each model in the file a new version of the file's sleeves and holdings, written by ``user``
    through ``model_version_create`` (the model page's service: its checks, audit, superseding of the
    accounts' open proposals, and "sleeves the same as the current version's write nothing").

    Weights are in percent, as on the model page. Every model is written or none: a refusal by the
    service for one model refuses the file, naming that model's first row. ``as_of`` is unused.
    """
    require(user, Capability.MANAGE_MODELS)  # before reading: the page's own rule, said before the file's problems
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED)
    codes = text_cells(sheet, "model", field=ModelPortfolio._meta.get_field("code"), required=True)
    classes = text_cells(sheet, "asset_class", field=Sleeve._meta.get_field("asset_class"), required=True)
    sleeve_weights = _percent_cells(sheet, "sleeve_weight")
    symbols = text_cells(sheet, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    weights = _percent_cells(sheet, "weight")
    found = _models_report(sheet, codes)
    _asset_classes_report(sheet, classes)
    references_map(sheet, "symbol", symbols, ids_by(Security, "symbol", distinct(symbols)), "symbol")
    duplicates_report(sheet, {"model": codes, "asset_class": classes, "symbol": symbols},
                      "model, asset class and symbol (a symbol once in a sleeve, with its whole weight)")
    sleeves = _keys(codes, classes)
    sleeve_weight = _sleeve_weights(sheet, sleeves, sleeve_weights)
    _sums_report(sheet, codes, sleeves, weights, sleeve_weight)
    sheet.problems.reject_if_any()

    specs: dict[str, dict[str, dict[str, Decimal]]] = {}  # model -> asset class -> symbol -> weight
    first_line: dict[str, int] = {}
    for line, code, asset_class, symbol, weight in zip(sheet.frame.index, codes, classes, symbols, weights,
                                                       strict=True):
        specs.setdefault(code, {}).setdefault(asset_class, {})[symbol] = weight
        first_line.setdefault(code, line)
    written, unchanged, notes = 0, 0, []
    for code, by_class in specs.items():
        model = found[code]
        sleeves_of = [SleeveSpec(asset_class=c, weight=sleeve_weight[(code, c)], holdings=holdings, percent=True)
                      for c, holdings in by_class.items()]
        try:
            with transaction.atomic():  # a refused model leaves nothing; the file is refused below
                version = model_version_create(model=model, sleeves=sleeves_of, user=user, note=note)
        except ValidationFailed as exc:
            sheet.problems.add(first_line[code], "model", f"model {code}: {exc.message}")
            continue
        if getattr(version, "unchanged", False):
            unchanged += 1
            notes.append(f"Model “{model.name}” ({code}): nothing changed - the file's sleeves are those of "
                         f"version {version.number}, so no version was written and its accounts' proposals stand")
        else:
            written += 1
            notes.append(f"Model “{model.name}” ({code}): version {version.number} written; the next run uses it."
                         + superseded_words(getattr(version, "superseded", 0)))
    sheet.problems.reject_if_any()  # raising undoes every version written above (the caller's transaction)
    return ImportSummary(KIND, sheet.rows, written, 0, unchanged, 0, tuple(notes))
