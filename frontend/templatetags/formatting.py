"""Numbers as an advisor reads them: money with a currency sign and thousands separators,
fractions as percentages, share counts without trailing zeros, and plain words for engine codes."""

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from django import template
from django.utils.html import format_html

register = template.Library()

MINUS = "\u2212"  # a real minus sign: the same width as the digits, read out as "minus"
# Words of codes (asset classes, index and wash-sale group codes) written as people write them.
ACRONYMS = {"us": "US", "esg": "ESG", "etf": "ETF", "ira": "IRA", "reit": "REIT", "tips": "TIPS", "intl": "international",
            "em": "EM", "msci": "MSCI", "eafe": "EAFE", "ftse": "FTSE", "crsp": "CRSP", "imi": "IMI", "gsci": "GSCI",
            "dbiq": "DBIQ", "amt": "AMT", "ice": "ICE", "tsm": "TSM", "sp": "S&P", "sp500": "S&P 500",
            "bbg": "Bloomberg", "dj": "Dow Jones", "nasdaq": "Nasdaq", "ark": "ARK", "govt": "government"}

REASON_LABELS = {
    "instruction": "Instruction",
    "harvest": "Loss harvest",
    "screen": "ESG / values screen",
    "restriction": "Restriction",
    "removed_asset_class": "Removed asset class",
    "direct_index": "Direct index",
    "transition": "Transition",
    "asset_location": "Asset location",
    "cash": "Cash",
    "drift": "Drift",
}
REASON_HELP = {
    "instruction": "A one-off instruction on the account asked for it.",
    "harvest": "Sells a lot at a loss to realise it for tax; the proceeds buy a close substitute.",
    "screen": "The account's ESG or values screen excludes this security.",
    "restriction": "A restriction on the account (do not buy, do not sell, hold).",
    "removed_asset_class": "The account's parameters remove this asset class from its model.",
    "direct_index": "Builds or maintains the direct-indexed sleeve.",
    "transition": "Moves the account towards its model within its tax budget.",
    "asset_location": "Places the asset class where the household's taxes on it are lowest (bonds in "
    "tax-deferred accounts, growth in Roth, tax-efficient equity in taxable).",
    "cash": "Raises the cash the account needs - its cash target, or a withdrawal or RMD it pays - or "
    "invests cash above its target.",
    "drift": "The position drifted beyond its tolerance band.",
}


def _number(value):
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None  # NaN and infinity are no figure to show


def half_up(number: Decimal, decimals: int) -> Decimal:
    """``number`` to ``decimals`` places, a half away from zero: as the IRS rounds to whole dollars
    (Form 1040 instructions, "Rounding off to whole dollars": 50 to 99 cents go up to the next
    dollar), not Python's half to even, which makes $2.50 "$2" but $3.50 "$4". Every figure these
    filters show is rounded here."""
    with localcontext() as context:  # a figure of more digits than the default 28 is rounded, not refused
        context.prec = max(context.prec, number.adjusted() + decimals + 2)
        return number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@register.filter
def money(value, decimals=2):
    """1234.5 -> "$1,234.50"; -3 -> "−$3.00"; None -> "—"; rounded half up (``half_up``):
    ``money0`` of 2.50 is "$3", of −0.50 "−$1"."""
    number = _number(value)
    if number is None:
        return "—"
    decimals = int(decimals)
    shown = half_up(abs(number), decimals)
    text = f"${shown:,.{decimals}f}"
    return f"{MINUS}{text}" if number < 0 and shown != 0 else text


@register.filter
def money0(value):
    return money(value, 0)


@register.filter
def signed_money(value, decimals=2):
    """Gains with a plus sign and losses with a minus sign, coloured by the page's CSS."""
    number = _number(value)
    if number is None:
        return "—"
    css = "gain" if number > 0 else "loss" if number < 0 else ""
    sign = "+" if number > 0 else ""
    return format_html('<span class="{}">{}{}</span>', css, sign, money(number, decimals))


@register.filter
def tax_effect(value, decimals=2):
    """A tax estimate (negative: a saving) in words: 1050 -> "adds $1,050.00", -1224 -> "saves
    $1,224.00", 0 -> "none"; None -> "—"."""
    number = _number(value)
    if number is None:
        return "—"
    if half_up(abs(number), int(decimals)) == 0:
        return "none"
    return f"{'saves' if number < 0 else 'adds'} {money(abs(number), decimals)}"


@register.filter
def pct(value, decimals=1):
    """0.1234 -> "12.3%"."""
    number = _number(value)
    if number is None:
        return "—"
    decimals = int(decimals)
    shown = half_up(abs(number) * 100, decimals)
    text = f"{shown:,.{decimals}f}%"
    return f"{MINUS}{text}" if number < 0 and shown != 0 else text


@register.filter
def pct2(value):
    return pct(value, 2)


@register.filter
def signed_pct(value, decimals=1):
    number = _number(value)
    if number is None:
        return "—"
    return ("+" if number > 0 else "") + pct(number, decimals)


@register.filter
def shares(value):
    """12.000000 -> "12"; 1.5 -> "1.5"; thousands separated."""
    number = _number(value)
    if number is None:
        return "—"
    text = f"{half_up(number, 4):,.4f}".rstrip("0").rstrip(".")
    return text.replace("-", MINUS)


@register.filter
def count(value):
    """A number of things, thousands separated as amounts and shares are: 12345 -> "12,345"."""
    return shares(value)


@register.filter
def reason_label(code):
    return REASON_LABELS.get(code, str(code).replace("_", " ").capitalize())


# What a reason means on a purchase, where its words above describe the sale.
REASON_HELP_BUY = {
    "harvest": "Buys a close substitute with a loss harvest's proceeds, so the account stays invested while "
    "the harvested security may not be bought back (30 days).",
    "screen": "Reinvests the weight the account's ESG or values screen freed, in the securities it allows.",
    "removed_asset_class": "Reinvests the weight of an asset class the account's parameters remove, in the "
    "rest of its model.",
}


@register.filter
def reason_help(code, side=""):
    """A trade reason in words, for the trade's side (``{{ r|reason_help:t.side }}``)."""
    if side == "buy" and code in REASON_HELP_BUY:
        return REASON_HELP_BUY[code]
    return REASON_HELP.get(code, "")


@register.filter
def humanize_code(code):
    """"tax_optimal" -> "Tax optimal"; "us_equity" -> "US equity"; "tips" -> "TIPS"."""
    words = str(code).replace("_", " ").replace(".", " · ").capitalize().split(" ")
    text = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    return text[:1].upper() + text[1:]  # "intl_developed" -> "International developed"


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters changed (pagination keeps the filters)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def query_page(context, param, number):
    """``query_with`` for a page number under ``param`` (a page with several paginated tables)."""
    return query_with(context, **{param or "page": number})


@register.filter
def source_class(source):
    """"template:esg" -> "template", "firm + account" -> "firm" (the CSS class of a parameter's source badge)."""
    return str(source).split(":", 1)[0].split(" + ", 1)[0]


@register.filter
def source_label(source):
    text = str(source)
    if text == "restricted":
        return "firm restricted list"
    if text.startswith("restricted + "):  # the firm's restricted list with a layer's own restrictions
        return "firm restricted list + " + source_label(text.removeprefix("restricted + "))
    if text.startswith("firm + "):  # the firm's harvest substitutes under a layer's own pairs
        return "firm list + " + source_label(text.removeprefix("firm + "))
    if text == "firm":
        return "firm list"
    if text == "default":
        return "engine default"
    if text.startswith("template:"):
        return "template " + text.split(":", 1)[1]
    return text


@register.filter
def param_value(value, path):
    from frontend.parameter_forms import display_value

    return display_value(path, value)


@register.filter
def param_label(path):
    """A setting's path as the template page names it: "cash.target" -> "Cash: target"."""
    from frontend.parameter_forms import LABELS

    group, _, leaf = str(path).partition(".")
    if not leaf:
        return humanize_code(group)
    words = LABELS.get(leaf.rsplit(".", 1)[-1]) or humanize_code(leaf.rsplit(".", 1)[-1])
    return f"{humanize_code(group)}: {words[:1].lower()}{words[1:]}"


def _scalar_words(item) -> str:
    if item is None:
        return "none"
    if isinstance(item, bool):
        return "yes" if item else "no"
    return str(item)


def _listed_words(items, word=_scalar_words) -> str:
    return ", ".join(word(i) for i in items) if items else "none"


_SCOPE_WORDS = {"model_code": "model", "template_code": "template", "household_id": "household #",
                "advisor_id": "advisor #"}


def _scope_words(scope: dict) -> str | None:
    """A run's scope as stored ({"account_ids": [298]}) in words ("accounts #298"); None for a key
    these words do not know (the JSON then stays)."""
    parts = ["whole firm"] if scope.get("firm") else []
    for key, item in scope.items():
        if key == "firm" or (key == "replace_approved" and not item):
            continue
        if key == "account_ids" and isinstance(item, list):
            parts.append("account" + ("s " if len(item) != 1 else " ") + ", ".join(f"#{pk}" for pk in item))
        elif key in _SCOPE_WORDS and item is not None:
            label = _SCOPE_WORDS[key]
            parts.append(f"{label}{item}" if label.endswith("#") else f"{label} {item}")
        elif key == "min_drift" and isinstance(item, int | float):
            parts.append(f"drift ≥ {item:.1%}")
        elif key == "replace_approved":
            parts.append("replacing approved proposals")
        elif item is not None:
            return None
    return ", ".join(parts) or "whole firm"


def _settings_words(values: dict) -> str:
    """Parameters or overrides as stored ({"cash": {"target": 0.02}}) as the template page names them."""
    from rebalancing.effective_parameters import flatten_parameters

    flat = flatten_parameters(values)
    return "; ".join(f"{param_label(path)} = {_scalar_words(v) if not isinstance(v, list | dict) else json.dumps(v)}"
                     for path, v in flat.items()) or "none"


def _change_words(key: str, item) -> str:
    """One key of an audit record's before/after in words; raw JSON only for what these words do not know."""
    if key == "waiting_for" and isinstance(item, list):
        return "waiting for " + (" and ".join(humanize_code(r).lower() for r in item) if item else "nobody")
    if key == "scope" and isinstance(item, dict) and (words := _scope_words(item)) is not None:
        return f"scope: {words}"
    if key == "roles" and isinstance(item, list):
        return f"roles: {_listed_words(item, lambda r: humanize_code(r))}"
    if key in ("status", "kind") and isinstance(item, str):
        return f"{key}: {humanize_code(item).lower()}"
    if key in ("overrides", "parameters", "household_parameters") and isinstance(item, dict):
        return f"{key.replace('_', ' ')}: {_settings_words(item)}"
    label = key.replace("_", " ")
    if item is None or isinstance(item, str | bool | int | float):
        return f"{label}: {_scalar_words(item)}"
    if isinstance(item, list) and all(i is None or isinstance(i, str | bool | int | float) for i in item):
        return f"{label}: {_listed_words(item)}"
    return f"{label}: {json.dumps(item)}"  # a shape these words do not know: as stored


@register.filter
def changes(value):
    """An audit record's before/after in words: "waiting for compliance; scope: accounts #298", the
    known keys said as the pages say them, lists as lists; JSON only for shapes not known here."""
    if value in (None, "", {}):
        return "—"
    if not isinstance(value, dict):
        return json.dumps(value)
    return "; ".join(_change_words(str(key), item) for key, item in value.items())
