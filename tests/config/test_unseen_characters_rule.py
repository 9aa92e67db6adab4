"""The one rule on characters that cannot be seen (``config.input_limits.unseen_character``), which the
imports' cells, the API's text, the restricted list and people's names call: controls, format
characters (zero-width, bidi) and Unicode's line and paragraph separators (U+2028, U+2029), which
every text widget and many CSV readers take as a line break; the joiners Persian and the Indic
scripts need are words' letters. A text of several lines keeps its line breaks and tabs."""

import unicodedata

import pytest

from config.input_limits import character_problem, unseen_character
from rebalancing.api.serializers.strict import unseen_character_problem
from rebalancing.imports import ImportRejected, securities_import


@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\x00", "\n", "\u200b", "\u202e", "\ufeff"])
def test_a_one_line_text_refuses_what_cannot_be_seen(character):
    text = f"Ada{character}Lovelace"
    assert unseen_character(text) == character
    assert character_problem(text, character).endswith("at position 4, which cannot be seen; remove it.")


def test_line_separators_are_named_and_a_multi_line_text_keeps_them():
    assert character_problem("a\u2028b", "\u2028") == ("contains line separator (U+2028) at position 2, which "
                                                        "cannot be seen; remove it.")
    assert unseen_character("first line\u2028second\u2029third\r\n\tfourth", multi_line=True) is None
    assert unseen_character("first line\u2028second\u200b", multi_line=True) == "\u200b"
    assert unseen_character_problem("why\u2028it", multi_line=True) == ""
    assert unseen_character_problem("why\u2028it").startswith("contains line separator (U+2028) at position 4")


def test_the_joiners_and_letters_of_every_script_are_text():
    assert unseen_character("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") is None  # Persian with ZWNJ
    assert unseen_character("\u0915\u094d\u200d\u0937 Zoë Łukasz 山田") is None
    # Every other character that is a control, a format character or a line/paragraph separator is refused.
    for code in range(0x3000):
        c = chr(code)
        refused = unseen_character(f"a{c}b") == c
        assert refused == (unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\u200c\u200d"), hex(code)


@pytest.mark.django_db
def test_a_csv_cell_with_a_line_separator_is_refused(firm_a):
    from django_tenants.utils import tenant_context

    with tenant_context(firm_a), pytest.raises(ImportRejected) as refused:
        securities_import(source="symbol,name,asset_class\nVTI,Vanguard\u2028Total,us_equity\n".encode())
    [problem] = refused.value.detail["problems"]
    assert (problem["row"], problem["column"]) == (2, "name") and "line separator (U+2028)" in problem["problem"]
