"""The securities a parameter set names, checked against the firm's security master where a
template, a household's overrides or an account's overrides are saved.

The engine matches symbols exactly and ignores one it does not know: a restriction of "ZZZZZ" or a
screen of "APPL" (for AAPL) would be saved and enforce nothing, every day, without a word. So they
are refused as the firm's restricted list refuses them (``restricted_list.restricted_add``): a
symbol is read without surrounding spaces and in capitals, the master's spelling.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from rebalancing.models import Security
from rebalancing.parameter_labels import setting_label
from tenants.errors import ValidationFailed

__all__ = ["SYMBOL_SETTINGS", "parameter_symbols_checked"]

# Every setting whose values are securities (rebalancing/engine/parameters.py): lists of symbols,
# symbol -> symbol maps (both sides), groups of symbols, and the instructions' sell and buy.
_LISTS = ("screen.excluded_symbols", "restrictions.do_not_buy", "restrictions.do_not_sell", "restrictions.hold")
_MAPS = ("transition.substitutes", "harvest.substitutes")
_GROUPS = ("wash_sale.equivalent_groups",)
SYMBOL_SETTINGS = (*_LISTS, *_MAPS, *_GROUPS, "instructions")


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
            spelled = [_spelled(k) for k in node[key] if isinstance(k, str)]
            twice = sorted({s for s in spelled if spelled.count(s) > 1})
            if twice:
                return path, twice[0]
    return None


def parameter_symbols_checked(values: Any, *, field: str, level: str, before: Any = None) -> Any:
    """``values`` (a template's parameters, or a household's or an account's overrides) with every
    symbol in the security master's spelling; ValidationFailed naming each setting and the symbols
    of it the master does not hold (with the close ones it does), before anything is written.
    ``field``: the request field refused ("parameters", "overrides"); ``level``: who sets them, for
    the message ("Template parameters", "Account 1234's overrides"); ``before``: the values saved
    until now, whose unknown symbols are let stand (a change is refused for what it brings: an
    account saved before this check must stay editable; the pages name them when saved)."""
    if not isinstance(values, Mapping):
        return values  # refused by the engine's check, in its words
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
    unknown: dict[str, list[str]] = {}
    for path, symbol in named:
        shown = _spelled(symbol)
        if shown not in known and shown not in kept and shown not in unknown.setdefault(path, []):
            unknown[path].append(shown)
    unknown = {path: symbols for path, symbols in unknown.items() if symbols}
    if not unknown:
        return _respelled(values)
    master = list(Security.objects.values_list("symbol", flat=True))  # only read to suggest close ones
    suggestions = {symbol: difflib.get_close_matches(symbol, master, n=3, cutoff=0.6)
                   for symbols in unknown.values() for symbol in symbols}
    said = []
    for path, symbols in unknown.items():
        words = [symbol + (f" (did you mean {' or '.join(suggestions[symbol])}?)" if suggestions[symbol] else "")
                 for symbol in symbols]
        said.append(f"“{setting_label(_setting_of(path))}” ({path}) names {', '.join(words)}")
    plural = sum(len(s) for s in unknown.values()) > 1
    raise ValidationFailed(
        f"{level} refused: {'; '.join(said)}: {'these are' if plural else 'it is'} not in the firm's security "
        f"master, so the setting would apply to nothing. Check the symbol{'s' if plural else ''}, or import the "
        f"securit{'ies' if plural else 'y'} first. Nothing was saved.",
        detail={"field": field, "parameter": _setting_of(next(iter(unknown))), "unknown_symbols": unknown,
                "suggestions": {s: m for s, m in suggestions.items() if m}})
