"""The securities file makes no look-alike of a symbol or a name (docs/csv-formats.md): a symbol is
written in ASCII letters, digits and . - / (a Cyrillic "В", U+0412, made "ВTI" a second security that
reads VTI on every page); a word of a name does not mix scripts that are not written together
(Unicode TR39's "highly restrictive" level: "Vаnguard" with a Cyrillic "а"). Refused naming the row,
column and character, and nothing is written."""

import string

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from rebalancing.imports import ImportRejected, securities_import
from rebalancing.imports.sheet import sheet_read
from rebalancing.models import Security

_SYMBOL_FIELD = Security._meta.get_field("symbol")


def _problems(caught) -> list[tuple[int, str, str]]:
    return [(p["row"], p["column"], p["problem"]) for p in caught.value.detail["problems"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "column", "named"), [
    ("\u0412TI,Vanguard Total,us_equity", "symbol", "cyrillic capital letter ve (U+0412)"),
    ("\u0432ti,Vanguard Total,us_equity", "symbol", "cyrillic small letter ve (U+0432)"),  # as written, not upper-cased
    ("\uff36TI,Vanguard Total,us_equity", "symbol", "fullwidth latin capital letter v (U+FF36)"),
    ("VT\u0399,Vanguard Total,us_equity", "symbol", "greek capital letter iota (U+0399)"),
    ("VT I,Vanguard Total,us_equity", "symbol", "space (U+0020)"),
    ("VTIX,V\u0430nguard Total,us_equity", "name", "cyrillic small letter a (U+0430)"),
])
def test_a_look_alike_is_refused_naming_row_column_and_character_and_nothing_is_written(firm_a, row, column, named):
    with tenant_context(firm_a):
        securities_import(source=b"symbol,name,asset_class\nVTI,Vanguard Total,us_equity\n")
        before = sorted(Security.objects.values_list("symbol", "name"))
        with pytest.raises(ImportRejected) as caught:
            securities_import(source=f"symbol,name,asset_class\nBND,Vanguard Bonds,us_bonds\n{row}\n".encode())
        [(line, where, problem)] = _problems(caught)
        assert (line, where) == (3, column)
        assert named in problem
        assert sorted(Security.objects.values_list("symbol", "name")) == before  # BND not written either


@pytest.mark.django_db
def test_tickers_with_dots_dashes_and_slashes_and_names_in_one_script_a_word_are_made(firm_a):
    with tenant_context(firm_a):
        summary = securities_import(source=(
            "symbol,name,asset_class\nbrk.b,Berkshire Hathaway B,us_equity\nBF-B,Brown-Forman B,us_equity\n"
            "RDS/A,Shell A,intl_equity\nSOGN,Société Générale,intl_equity\n"
            "SBER,Сбербанк (Sberbank),intl_equity\n7203,トヨタ自動車 Toyota,intl_equity\n"
            "IRX,\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645,intl_equity\n").encode())
        assert summary.created == 7
        assert "BRK.B" in set(Security.objects.values_list("symbol", flat=True))


def _symbol_refused(text: str) -> bool:
    from rebalancing.imports.cells import symbol_cells

    sheet = sheet_read(f"symbol\n{text}\n".encode(), kind="securities", required=("symbol",))
    symbol_cells(sheet, "symbol", field=_SYMBOL_FIELD, required=True)
    return bool(sheet.problems)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=8))
def test_a_symbol_is_made_exactly_when_every_character_is_an_ascii_letter_digit_dot_dash_or_slash(text):
    text = text.strip()
    if not text or any(c in text for c in ',"\u0085\ufeff') or not text.isprintable():
        return  # (a cell: trimmed, no separator, quote or character the file reader refuses on its own)
    allowed = set(string.ascii_letters + string.digits + "./-")
    assert _symbol_refused(text) == (not set(text) <= allowed)


LATIN_WORD = st.text(alphabet=string.ascii_letters, min_size=2, max_size=10)
# Letters of other scripts drawn like Latin ones: Cyrillic а е о р с х В Н, Greek Α Ο Ρ ν.
LOOK_ALIKES = st.sampled_from("\u0430\u0435\u043e\u0440\u0441\u0445\u0412\u041d\u0391\u039f\u03a1\u03bd")


@given(LATIN_WORD, LOOK_ALIKES, st.integers(0, 10))
def test_a_latin_word_with_one_letter_of_another_script_is_a_look_alike(word, letter, at):
    from rebalancing.imports.cells import look_alike_problem

    at = min(at, len(word))
    problem = look_alike_problem(f"Fund {word[:at]}{letter}{word[at:]} Index")
    assert problem is not None and f"U+{ord(letter):04X}" in problem


@given(st.lists(LATIN_WORD | st.text(alphabet="абвгдежзийклмнопрстуфхцчшщыэюя", min_size=1, max_size=8)
                | st.text(alphabet="αβγδεζηθικλμνξοπρστυφχψω", min_size=1, max_size=8), min_size=1, max_size=5))
def test_words_each_in_one_script_are_no_look_alike(words):
    from rebalancing.imports.cells import look_alike_problem

    assert look_alike_problem(" ".join(words)) is None
