"""UTF-16 text with no byte-order mark (some tools save it so) is read as UTF-16, little- or
big-endian; one cut off mid-character is refused in the user's terms, not as "a NUL character"."""

import pytest

from rebalancing.imports.report import ImportRejected
from rebalancing.imports.sheet import sheet_read

TEXT = "symbol,name\r\nVTI,Vanguard Total Stock\r\nSOC,Société Générale\r\n"


def read(data: bytes):
    return sheet_read(data, kind="securities", required=("symbol", "name"))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_as_text(encoding):
    sheet = read(TEXT.encode(encoding))

    assert sheet.frame.to_dict("records") == [{"symbol": "VTI", "name": "Vanguard Total Stock"},
                                              {"symbol": "SOC", "name": "Société Générale"}]
    assert list(sheet.frame.index) == [2, 3]


def test_utf16_cut_off_mid_character_is_refused_saying_so():
    with pytest.raises(ImportRejected) as refused:
        read(TEXT.encode("utf-16-le")[:-1])

    [problem] = refused.value.detail["problems"]
    assert problem["row"] == 3 and "NUL" not in problem["problem"]
    assert problem["problem"].startswith("the file looks like UTF-16 little-endian text without a byte-order mark")
    assert problem["problem"].endswith("save it as CSV UTF-8 (or UTF-16 with a byte-order mark)")


def test_a_stray_nul_in_one_byte_text_is_still_a_nul():
    with pytest.raises(ImportRejected) as refused:
        read(b"symbol,name\nVTI,Total\x00 market\n")

    [problem] = refused.value.detail["problems"]
    assert problem["row"] == 2 and "NUL character" in problem["problem"]


def test_one_byte_text_and_utf16_with_its_mark_read_as_before():
    assert read(TEXT.encode("utf-8")).frame.iloc[1]["name"] == "Société Générale"
    assert read(TEXT.encode("cp1252")).frame.iloc[1]["name"] == "Société Générale"
    assert read(TEXT.encode("utf-16")).frame.iloc[1]["name"] == "Société Générale"
