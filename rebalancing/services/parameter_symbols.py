"""The securities a parameter set names, checked against the firm's security master where a
template, a household's overrides or an account's overrides are saved; and the asset classes,
sectors and values tags it names, checked against those the firm's securities and models have.

The engine matches symbols exactly and ignores one it does not know: a restriction of "ZZZZZ" or a
screen of "APPL" (for AAPL) would be saved and enforce nothing, every day, without a word. So they
are refused as the firm's restricted list refuses them (``restricted_list.restricted_add``): a
symbol is read without surrounding spaces and in capitals, the master's spelling.
"""

from __future__ import annotations

import copy
import difflib
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from rebalancing.models import Security
from rebalancing.parameter_labels import setting_label
from rebalancing.selectors import asset_classes_known
from tenants.errors import ValidationFailed

__all__ = ["MAX_ENTRIES", "SYMBOL_SETTINGS", "parameter_lists_bounded", "parameter_symbols_checked",
           "parameter_words_checked"]

# Every setting whose values are securities (rebalancing/engine/parameters.py): lists of symbols,
# symbol -> symbol maps (both sides), groups of symbols, and the instructions' sell and buy.
_LISTS = ("screen.excluded_symbols", "restrictions.do_not_buy", "restrictions.do_not_sell", "restrictions.hold")
_MAPS = ("transition.substitutes", "harvest.substitutes")
_GROUPS = ("wash_sale.equivalent_groups",)
SYMBOL_SETTINGS = (*_LISTS, *_MAPS, *_GROUPS, "instructions")

# The most entries one setting holds (a list's items, a map's pairs, every symbol of the wash-sale
# groups): a real restriction or screen list names a few hundred securities, a total-market ESG
# exclusion a few thousand. Beyond, a request is refused before any check walks it item by item.
MAX_ENTRIES = 5_000
# The most symbols a refusal names (with the count of the rest): a message stays readable and small.
NAMED = 10
# Lists the engine refuses with a repeated entry (its schema's "uniqueItems", whose message repeats
# the whole list): named here by their first repeat.
_ONCE = (*_LISTS, "removed_asset_classes", "screen.excluded_sectors", "screen.excluded_tags")


def _spelled(symbol: str) -> str:
    return symbol.strip().upper()


def _node(values: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any] | None, str]:
    """The mapping holding ``path``'s last key, and that key (None: the path is absent)."""
    *groups, key = path.split(".")
    node: Any = values
    for group in groups:
        node = node.get(group) if isinstance(node, Mapping) else None
    return (node, key) if isinstance(node, Mapping) and key in node else (None, key)


def _named(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(setting path, symbol as typed) of every security the parameters name. Values of the wrong
    shape are passed over: the engine's own check refuses them in its words."""
    for path in _LISTS:
        node, key = _node(values, path)
        if node is not None and isinstance(node[key], list | tuple):
            yield from ((path, s) for s in node[key] if isinstance(s, str))
    for path in _MAPS:
        node, key = _node(values, path)
        if node is not None and isinstance(node[key], Mapping):
            for held, substitute in node[key].items():
                yield from ((path, s) for s in (held, substitute) if isinstance(s, str))
    for path in _GROUPS:
        node, key = _node(values, path)
        if node is not None and isinstance(node[key], list | tuple):
            for group in node[key]:
                if isinstance(group, list | tuple):
                    yield from ((path, s) for s in group if isinstance(s, str))
    instructions = values.get("instructions")
    if isinstance(instructions, list | tuple):
        for n, instruction in enumerate(instructions, start=1):
            if isinstance(instruction, Mapping):
                yield from ((f"instructions.{n}.{side}", instruction[side]) for side in ("sell", "buy")
                            if isinstance(instruction.get(side), str) and instruction[side])


def _setting_of(path: str) -> str:
    """The setting a named place belongs to: "instructions.2.buy" is one of "instructions"."""
    return "instructions" if path.startswith("instructions.") else path


def _respelled(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every symbol it names in the master's spelling (``_spelled``)."""
    out = copy.deepcopy(dict(values))
    for path in _LISTS:
        node, key = _node(out, path)
        if node is not None and isinstance(node[key], list | tuple):
            node[key] = list(dict.fromkeys(_spelled(s) if isinstance(s, str) else s for s in node[key]))
    for path in _MAPS:
        node, key = _node(out, path)
        if node is not None and isinstance(node[key], Mapping):
            node[key] = {_spelled(k) if isinstance(k, str) else k: _spelled(v) if isinstance(v, str) else v
                         for k, v in node[key].items()}
    for path in _GROUPS:
        node, key = _node(out, path)
        if node is not None and isinstance(node[key], list | tuple):
            node[key] = [list(dict.fromkeys(_spelled(s) if isinstance(s, str) else s for s in group))
                         if isinstance(group, list | tuple) else group for group in node[key]]
    for instruction in out.get("instructions") or ():
        if isinstance(instruction, dict):
            for side in ("sell", "buy"):
                if isinstance(instruction.get(side), str) and instruction[side]:
                    instruction[side] = _spelled(instruction[side])
    return out


def _map_keys_twice(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """(setting, symbol) of a substitutes map naming one security twice in different capitals."""
    for path in _MAPS:
        node, key = _node(values, path)
        if node is not None and isinstance(node[key], Mapping):
            spelled = Counter(_spelled(k) for k in node[key] if isinstance(k, str))
            twice = sorted(s for s, n in spelled.items() if n > 1)
            if twice:
                return path, twice[0]
    return None


# Settings whose values are words of the firm's book, not symbols: an asset class, sector or tag no
# security or sleeve has ("us_equty", "Tobaco") is matched by nothing, as an unknown symbol is.
_WORDS = {"removed_asset_classes": "asset class", "direct_index": "asset class",
          "screen.excluded_sectors": "sector", "screen.excluded_tags": "values tag"}


def _words_named(values: Mapping[str, Any], path: str) -> list[str]:
    node, key = _node(values, path)
    if node is None:
        return []
    value = node[key]
    if path == "direct_index":  # sleeve -> its settings
        return [w for w in value if isinstance(w, str)] if isinstance(value, Mapping) else []
    return [w for w in value if isinstance(w, str)] if isinstance(value, list | tuple) else []


def _words_known(kind: str) -> set[str]:
    if kind == "asset class":
        return asset_classes_known()
    if kind == "sector":
        return set(Security.objects.exclude(sector="").values_list("sector", flat=True).distinct())
    return {t for tags in Security.objects.exclude(tags=[]).values_list("tags", flat=True) for t in tags or ()
            if isinstance(t, str)}


def _words_refuse(values: Mapping[str, Any], *, field: str, level: str, before: Any) -> None:
    """ValidationFailed naming the first setting with an asset class, sector or tag the firm does not
    have, the close ones it has and all of them; those saved until now (``before``) are let stand."""
    for path, kind in _WORDS.items():
        named = _words_named(values, path)
        if not named:
            continue
        kept = set(_words_named(before, path)) if isinstance(before, Mapping) else set()
        known = _words_known(kind)
        unknown = [w for w in dict.fromkeys(named) if w not in known and w not in kept]
        if not unknown:
            continue
        by_case = {w.lower(): w for w in known}
        words = []
        for word in unknown[:NAMED]:
            close = difflib.get_close_matches(word.lower(), list(by_case), n=2, cutoff=0.6)
            words.append(f"“{word[:40]}”" + (f" (did you mean {' or '.join(by_case[c] for c in close)}?)"
                                             if close else ""))
        plural = len(unknown) > 1
        more = f" and {len(unknown) - NAMED:,} more" if len(unknown) > NAMED else ""
        listed = ", ".join(sorted(known)[:30]) + (", …" if len(known) > 30 else "") if known else "none yet"
        raise ValidationFailed(
            f"{level} refused: “{setting_label(path)}” ({path}) names {', '.join(words)}{more}: the firm has no "
            f"{kind}{' by these names' if plural else ' by that name'}, so the setting would apply to nothing. "
            f"The firm's {kind}{'es' if kind.endswith('ss') else 's'}: {listed}. Nothing was saved.",
            detail={"field": field, "parameter": path, "unknown": unknown[:NAMED], "unknown_count": len(unknown)})


def _shape_problem(values: Any) -> tuple[str, str, str] | None:
    """(setting, symbol, what is wrong) of a transition substitute that is the security itself
    (harvest.substitutes refuses the same in the engine), or of a security in two wash-sale groups
    (the groups are one relation: two groups sharing a security are one group)."""
    if not isinstance(values, Mapping):
        return None
    node, key = _node(values, "transition.substitutes")
    if node is not None and isinstance(node[key], Mapping):
        itself = sorted(_spelled(k) for k, v in node[key].items()
                        if isinstance(k, str) and isinstance(v, str) and _spelled(k) == _spelled(v))
        if itself:
            return ("transition.substitutes", itself[0], f"names {itself[0]} as its own substitute, which replaces "
                    "nothing; give another security or remove the pair")
    node, key = _node(values, "wash_sale.equivalent_groups")
    if node is not None and isinstance(node[key], list | tuple):
        seen: dict[str, int] = {}
        for n, group in enumerate(node[key], start=1):
            if not isinstance(group, list | tuple):
                continue
            for symbol in dict.fromkeys(_spelled(s) for s in group if isinstance(s, str)):
                if symbol in seen:
                    return ("wash_sale.equivalent_groups", symbol, f"has {symbol} in groups {seen[symbol]} and {n}; "
                            "a security is in one group: merge them")
                seen[symbol] = n
    return None


def _shapes_refuse(values: Mapping[str, Any], *, field: str, level: str, before: Any) -> None:
    problem = _shape_problem(values)
    if problem is None or problem[:2] == (_shape_problem(before) or ())[:2]:  # saved so before: let stand
        return
    path, symbol, words = problem
    raise ValidationFailed(f"{level} refused: “{setting_label(path)}” ({path}) {words}. Nothing was saved.",
                           detail={"field": field, "parameter": path, "symbols": [symbol]})


def _entries(value: Any) -> int:
    """How many entries a setting's value holds, nested lists' counted (a wash-sale group's symbols)."""
    if isinstance(value, list | tuple):
        return len(value) + sum(_entries(v) for v in value if isinstance(v, list | tuple))
    return len(value) if isinstance(value, Mapping) else 0


def _settings_of(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every setting holding a list or a map: a group's (``screen``) are its settings."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, list | tuple) or path in (*_MAPS, "direct_index"):
            yield path, value
        elif isinstance(value, Mapping) and not prefix:
            yield from _settings_of(value, f"{path}.")


def _first_repeat(items: list | tuple) -> str | None:
    seen: set[str] = set()
    for item in items:
        if isinstance(item, str):
            if item in seen:
                return item
            seen.add(item)
    return None


def parameter_lists_bounded(values: Any, *, field: str, level: str) -> None:
    """ValidationFailed naming a setting of ``values`` with more than ``MAX_ENTRIES`` entries, or a
    list naming one entry twice (the first repeat); in time linear in the request, to run before the
    engine's schema, which checks each item (seconds for 100,000) and repeats a refused list whole."""
    if not isinstance(values, Mapping):
        return
    for path, value in _settings_of(values):
        entries = _entries(value)
        if entries > MAX_ENTRIES:
            raise ValidationFailed(
                f"{level} refused: “{setting_label(_setting_of(path))}” ({path}) has {entries:,} entries; a setting "
                f"holds at most {MAX_ENTRIES:,}. Nothing was saved.",
                detail={"field": field, "parameter": path, "entries": entries, "max_entries": MAX_ENTRIES})
        if path in _ONCE and isinstance(value, list | tuple) and (repeat := _first_repeat(value)) is not None:
            times = sum(1 for item in value if item == repeat)
            raise ValidationFailed(
                f"{level} refused: “{setting_label(path)}” ({path}) names {repeat[:40]} {times:,} times; name each "
                "once. Nothing was saved.", detail={"field": field, "parameter": path, "repeated": repeat[:40]})


def parameter_words_checked(values: Any, *, field: str, level: str, before: Any = None) -> None:
    """ValidationFailed naming an asset class, sector or values tag of ``values`` the firm does not
    have (``parameter_symbols_checked``'s arguments). Separate, for the services to call after their
    conflict checks: a sleeve the accounts' model lacks is better named with the model."""
    if isinstance(values, Mapping):
        _words_refuse(values, field=field, level=level, before=before)


def parameter_symbols_checked(values: Any, *, field: str, level: str, before: Any = None,
                              words: bool = True) -> Any:
    """``values`` (a template's parameters, or a household's or an account's overrides) with every
    symbol in the security master's spelling; ValidationFailed naming each setting and the symbols
    of it the master does not hold (with the close ones it does), before anything is written; likewise
    an asset class, sector or tag the firm does not have, a transition substitute that is the security
    itself and a security in two wash-sale groups.
    ``field``: the request field refused ("parameters", "overrides"); ``level``: who sets them, for
    the message ("Template parameters", "Account 1234's overrides"); ``before``: the values saved
    until now, whose unknown symbols are let stand (a change is refused for what it brings: an
    account saved before this check must stay editable; the pages name them when saved); ``words``:
    False when the caller checks the words itself (``parameter_words_checked``)."""
    if not isinstance(values, Mapping):
        return values  # refused by the engine's check, in its words
    parameter_lists_bounded(values, field=field, level=level)
    _shapes_refuse(values, field=field, level=level, before=before)
    if words:
        _words_refuse(values, field=field, level=level, before=before)
    if twice := _map_keys_twice(values):
        path, symbol = twice
        raise ValidationFailed(f"{level} refused: “{setting_label(path)}” ({path}) names {symbol} twice, in "
                               "different capitals; keep one", detail={"field": field, "parameter": path,
                                                                       "symbols": [symbol]})
    named = list(_named(values))
    if not named:
        return values
    kept = {_spelled(s) for _, s in _named(before)} if isinstance(before, Mapping) else set()
    wanted = {_spelled(s) for _, s in named}
    known = set(Security.objects.filter(symbol__in=wanted).values_list("symbol", flat=True))
    # Sets, not lists: a list of 40,000 names is checked in one pass (a list's "in" made it quadratic).
    unknown: dict[str, dict[str, None]] = {}
    for path, symbol in named:
        shown = _spelled(symbol)
        if shown not in known and shown not in kept:
            unknown.setdefault(path, {})[shown] = None
    if not unknown:
        return _respelled(values)
    count = sum(len(symbols) for symbols in unknown.values())
    # Close ones for the first few only: each costs a pass over the master.
    first = [symbol for symbols in unknown.values() for symbol in symbols][:NAMED]
    master = list(Security.objects.values_list("symbol", flat=True))
    suggestions = {symbol: difflib.get_close_matches(symbol, master, n=3, cutoff=0.6) for symbol in first}
    said, left = [], NAMED
    for path, symbols in unknown.items():
        if left <= 0:
            break
        shown = list(symbols)[:left]
        left -= len(shown)
        words = [symbol + (f" (did you mean {' or '.join(suggestions[symbol])}?)" if suggestions[symbol] else "")
                 for symbol in shown]
        said.append(f"“{setting_label(_setting_of(path))}” ({path}) names {', '.join(words)}")
    more = f" and {count - NAMED:,} more" if count > NAMED else ""
    plural = count > 1
    raise ValidationFailed(
        f"{level} refused: {'; '.join(said)}{more}: {'these are' if plural else 'it is'} not in the firm's security "
        f"master, so the setting would apply to nothing. Check the symbol{'s' if plural else ''}, or import the "
        f"securit{'ies' if plural else 'y'} first. Nothing was saved.",
        detail={"field": field, "parameter": _setting_of(next(iter(unknown))), "unknown_count": count,
                "unknown_symbols": {path: list(symbols)[:NAMED] for path, symbols in unknown.items()},
                "suggestions": {s: m for s, m in suggestions.items() if m}})
