"""The backtest's own price file (``--prices``, ``prices_from_csv``) read as the book files are
(docs/csv-formats.md): a UTF-8 byte-order mark is fine; a number is written in the digits 0-9,
without underscores; its days are days the engine rebalances on."""

import pytest

from rebalancing.backtest.__main__ import _read_text, main
from rebalancing.backtest.errors import BacktestError
from rebalancing.backtest.prices import prices_from_csv

ROWS = "2005-01-03,10,20\r\n2005-01-04,11,21\r\n2005-01-05,12,22\r\n"


def test_a_file_saved_as_excels_csv_utf8_with_a_byte_order_mark_is_read(tmp_path):
    # Excel's "CSV UTF-8" starts the file with a BOM: it was read as part of the first column's name
    # ("the price file's first column must be 'date'").
    path = tmp_path / "prices.csv"
    path.write_bytes(("\ufeffdate,AAA,BBB\r\n" + ROWS).encode("utf-8"))
    history = prices_from_csv(_read_text(str(path)), source=str(path))
    assert history.symbols == ("AAA", "BBB")
    assert history.closes.tolist() == [[10, 20], [11, 21], [12, 22]]
    # The text as another caller hands it over, BOM and all.
    assert prices_from_csv("\ufeffdate,AAA,BBB\r\n" + ROWS).symbols == ("AAA", "BBB")


@pytest.mark.parametrize(("cell", "named"), [
    ("\uff11\uff11", "U+FF11"),  # fullwidth: float() reads 11
    ("\u0661\u0661", "U+0661"),  # Arabic-Indic
    ("1\u00a0", "U+00A0"),  # a no-break space float() strips
    ("1_1", "1_000"),
])
def test_a_number_the_book_files_refuse_is_refused_here_too_naming_the_line(cell, named):
    text = f"date,AAA\n2005-01-03,10\n2005-01-04,{cell}\n2005-01-05,12\n"
    with pytest.raises(BacktestError, match="line 3, AAA") as caught:
        prices_from_csv(text)
    assert named in str(caught.value)


@pytest.mark.parametrize("cell", ["11", "11.5", ".5", "1e1", "+11", " 11 "])
def test_numbers_in_ascii_digits_are_read(cell):
    history = prices_from_csv(f"date,AAA\n2005-01-03,10\n2005-01-04,{cell}\n")
    assert history.closes[1, 0] == float(cell)


@pytest.mark.parametrize("day", ["1871-01-03", "9999-12-30"])
def test_a_day_the_engine_does_not_rebalance_on_is_refused_naming_the_line(day):
    with pytest.raises(BacktestError, match=f"line 3: {day} is not a day the engine rebalances on"):
        prices_from_csv(f"date,AAA\n1998-01-02,10\n{day},11\n")


def test_the_cli_reads_a_file_with_a_byte_order_mark_and_refuses_a_fullwidth_digit(tmp_path, capsys):
    path = tmp_path / "prices.csv"
    path.write_bytes("\ufeffdate,AAA\n2005-01-03,10\n2005-01-04,\uff11\uff11\n".encode())
    assert main(["--prices", str(path), "--start", "2005-01-03", "--years", "1"]) == 2
    err = capsys.readouterr().err
    assert "line 3, AAA" in err and "U+FF11" in err
