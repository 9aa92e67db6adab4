"""Reading a custodian CSV into a frame of text cells whose index is the row's line in the file."""

import csv
import io
import os
import re
from dataclasses import dataclass, field
from typing import IO

import pandas as pd

from .report import Problems

__all__ = ["MAX_CELL", "Sheet", "Source", "column_name", "sheet_read"]

Source = str | os.PathLike | bytes | IO[bytes] | IO[str]

_LINE_IN_PARSER_ERROR = re.compile(r"line (\d+)")
# A line ends with CR LF (Windows), LF (Unix) or CR alone (Excel for Mac's "CSV (Macintosh)", old
# custodian exports): all three are lines, for pandas, for the csv module and here.
_LINE_END = re.compile(r"\r\n|\r|\n")
# The csv module's default field limit (``csv.field_size_limit()``): a longer cell is refused by row and
# column. Fixed here, not read from the module, whose limit is process-wide state.
MAX_CELL = 131_072
_UNCLOSED_QUOTE_IN_PARSER_ERROR = re.compile(r"EOF inside string starting at row (\d+)")


@dataclass
class Sheet:
    """A file's data rows as stripped strings. ``frame.index`` is each row's line (the header is line 1)."""

    kind: str
    frame: pd.DataFrame
    problems: Problems = field(repr=False)

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def cells(self, column: str) -> pd.Series:
        return self.frame[column]

    @property
    def rows(self) -> int:
        return len(self.frame)

    def without(self, rows: pd.Index) -> "Sheet":
        return Sheet(self.kind, self.frame.drop(index=rows), self.problems)


def _read_bytes(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return handle.read()
    data = source.read()  # an open file, an UploadedFile, a BytesIO/StringIO
    return data.encode("utf-8") if isinstance(data, str) else data


def _line_at(text: str, at: int | None = None) -> int:
    """The line (from 1) of the character at ``at`` (default: just after the text), whichever line
    ends the file uses."""
    end = len(text) if at is None else at
    if end and text[end - 1] == "\r":
        end -= 1  # a CR just before: the first half of a CR LF, or the end of this line
    return len(_LINE_END.findall(text, 0, end)) + 1


def _first_line(text: str) -> str:
    return _LINE_END.split(text, maxsplit=1)[0]


def _without_nul(text: str, problems: Problems) -> str | None:
    """PostgreSQL text cannot hold NUL, and a CSV file has none: refuse it, naming the first line."""
    at = text.find("\x00")
    if at < 0:
        return text
    problems.add(_line_at(text, at), None,
                 "the line contains a NUL character (\\x00): this is not CSV text (a binary file, or a spreadsheet "
                 "saved in another format?); save it as CSV UTF-8")
    return None


_UTF16_WORDS = {"utf-16-le": "UTF-16 little-endian", "utf-16-be": "UTF-16 big-endian"}


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 text with no byte-order mark, else None.

    A CSV's header and nearly all its cells are ASCII or Latin letters, whose UTF-16 code units have
    a NUL high byte: every other byte is NUL (the second of each pair little-endian, the first
    big-endian) and the bytes between are not. Text in a one-byte encoding has no NUL at all, and a
    stray NUL in it is far from every other byte.
    """
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    first, second = sample[0:2 * pairs:2].count(0), sample[1:2 * pairs:2].count(0)
    for nul, other, encoding in ((second, first, "utf-16-le"), (first, second, "utf-16-be")):
        if 4 * nul >= 3 * pairs and 16 * other <= pairs:
            return encoding
    return None


def _decode(data: bytes, problems: Problems) -> str | None:
    if data.startswith(b"PK\x03\x04"):
        problems.add(1, None, "this is a zip or Excel workbook, not CSV text; save it as CSV (comma-separated)")
        return None
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):  # a statement saved as PDF, not its export
        problems.add(1, None, "this is a PDF document, not CSV text; export the data from its source as CSV "
                              "(comma-separated)")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" and other UTF-16 saves
        try:
            return _without_nul(data.decode("utf-16"), problems)
        except UnicodeDecodeError:
            problems.add(1, None, "the file starts like UTF-16 text but is not; save it as CSV UTF-8")
            return None
    if encoding := _utf16_without_bom(data):  # UTF-16 saved by a tool that writes no byte-order mark
        try:
            return _without_nul(data.decode(encoding), problems)
        except UnicodeDecodeError as exc:
            line = _line_at(data[:exc.start].decode(encoding, errors="replace"))
            problems.add(line, None, f"the file looks like {_UTF16_WORDS[encoding]} text without a byte-order mark, "
                                     f"but its byte {exc.start + 1} cannot be read as such (a cut-off file?); save it "
                                     "as CSV UTF-8 (or UTF-16 with a byte-order mark)")
            return None
    try:
        return _without_nul(data.decode("utf-8-sig"), problems)
    except UnicodeDecodeError:
        pass
    try:
        # Custodian exports from Windows tools are often Windows-1252 ("Société Générale").
        return _without_nul(data.decode("cp1252"), problems)
    except UnicodeDecodeError as exc:
        # Named where it is: the line (a file's line is its row) and the byte's value, not its offset alone.
        line = _line_at(data[:exc.start].decode("latin-1"))
        problems.add(line, None, f"the file is neither UTF-8 nor Windows-1252 text: byte {data[exc.start]:#04x} on this "
                                 f"line (the file's byte {exc.start + 1}) cannot be read; save it as CSV UTF-8")
        return None


def _cells_per_record(text: str) -> list[int]:
    """How many cells each record of the file has, as written (pandas pads a short line with empty
    cells, which would then clear the optional fields a cut-off line never reached); [] when the csv
    module cannot split the file (cells too long for it are refused before)."""
    try:
        return [len(record) for record in csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)]
    except csv.Error:
        return []


# A header that is one cell holding these is a file saved with another separator (Excel's in much of
# Europe is the semicolon; "Unicode text" is tab-separated).
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "pipes"}


def _other_separator(text: str) -> str | None:
    """The separator of a header that is one cell holding ";", a tab or "|", before pandas reads the
    rest: a European Excel's decimal commas ("71,5") would otherwise split the lines into more cells
    than that one-cell header, and the file be refused for "an unquoted comma" instead."""
    try:
        header = next(csv.reader([_first_line(text)], skipinitialspace=True), [])
    except csv.Error:  # a header the csv module cannot read (a cell over its limit): pandas reads it next
        return None
    if len(header) != 1:
        return None
    return next((s for s in _OTHER_SEPARATORS if s in header[0]), None)


def column_name(header: str) -> str:
    # "Account Number" and "account-number" both mean account_number.
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


# The most unknown columns a refusal names one by one; beyond, it names these first and counts the rest.
_UNKNOWN_NAMED = 10


def _unknown_columns_refuse(text: str, *, kind: str, known: tuple[str, ...], problems: Problems) -> None:
    """Refuse a header with more unknown columns than ``_UNKNOWN_NAMED`` before pandas reads the rows (a
    JSON row with 50,000 keys is a header of 50,000 columns): one problem naming the first few and the
    count, not one per column."""
    try:
        header = next(csv.reader([_first_line(text)], skipinitialspace=True), [])
    except csv.Error:  # a header cell over the csv module's limit: reported once pandas has read it
        return
    if len(header) <= len(known) + _UNKNOWN_NAMED:
        return
    unknown = [h for h in dict.fromkeys(column_name(h) for h in header) if h not in known]
    if len(unknown) > _UNKNOWN_NAMED:
        named = ", ".join(repr(h[:40]) for h in unknown[:_UNKNOWN_NAMED])
        problems.add(1, None, f"the header has {len(unknown):,} unknown columns ({named} and "
                              f"{len(unknown) - _UNKNOWN_NAMED:,} more); the columns of the {kind} file are "
                              f"{', '.join(known)}")


def sheet_read(source: Source, *, kind: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Sheet:
    """Read ``source`` (a path, bytes or a file object) as a CSV of text cells.

    Cells are stripped strings ("" for an empty cell); wholly blank lines are dropped. The header must
    name every required column, may name optional ones, and nothing else. Problems with the file as a
    whole (not text, no header, a missing or unknown column, a header and no rows) refuse it at once,
    and so does a cell longer than ``MAX_CELL`` characters, by row and column.
    """
    problems = Problems(kind)
    try:
        return _sheet_read(source, kind=kind, required=required, optional=optional, problems=problems)
    except csv.Error as exc:
        # Never a server error: a file the csv module cannot split is refused like any unreadable file.
        problems.add(1, None, f"the file cannot be read as CSV ({exc}); save it as CSV UTF-8 (comma-separated)")
        problems.reject_if_any()
        raise


def _sheet_read(source: Source, *, kind: str, required: tuple[str, ...], optional: tuple[str, ...],
                problems: Problems) -> Sheet:
    text = _decode(_read_bytes(source), problems)
    if text is not None and (hint := re.match(r"\s*(sep=.?)\s*$", _first_line(text[:16]), re.ASCII)):
        problems.add(1, None, f"the first line is Excel's separator hint {hint.group(1)!r}, not the header; delete "
                              "that line so that the file starts with the column names")
        text = None
    if text is not None and (separator := _other_separator(text)):
        problems.add(1, None, f"the columns are separated by {_OTHER_SEPARATORS[separator]}, not commas; save the "
                              "file as CSV (comma-separated)")
        text = None
    if text is not None:
        _unknown_columns_refuse(text, kind=kind, known=(*required, *optional), problems=problems)
        problems.reject_if_any()
    frame = None
    if text is not None:
        try:
            # header=None: the header is row 0, so a row's position is its line number minus one, and
            # duplicated header names are seen as written rather than renamed "x.1" by pandas.
            frame = pd.read_csv(
                io.StringIO(text), header=None, dtype=str, keep_default_na=False, na_filter=False,
                skip_blank_lines=False, skipinitialspace=True,
            )
        except pd.errors.EmptyDataError:
            problems.add(1, None, "the file is empty; the first line must name the columns")
        except pd.errors.ParserError as exc:
            if match := _UNCLOSED_QUOTE_IN_PARSER_ERROR.search(str(exc)):
                # pandas counts these rows from 0: row 1 is the file's line 2.
                problems.add(int(match.group(1)) + 1, None,
                             'a quoted cell starts on this line and is never closed (a stray " ?)')
            else:
                match = _LINE_IN_PARSER_ERROR.search(str(exc))
                problems.add(
                    int(match.group(1)) if match else 1, None,
                    "the line has more cells than the header has columns (an unquoted comma?)",
                )
    if frame is not None and frame.empty:
        problems.add(1, None, "the file is empty; the first line must name the columns")
    problems.reject_if_any()

    for header in frame.iloc[0]:
        if len(header) > MAX_CELL:
            problems.add(1, None, f"a column name is {len(header):,} characters long; at most {MAX_CELL:,} (is "
                                  "this a CSV file?)")
    problems.reject_if_any()
    headers = [column_name(h) for h in frame.iloc[0]]
    known = set(required) | set(optional)
    seen: set[str] = set()
    for header in headers:
        if header == "":
            problems.add(1, None, "a column has no name")
        elif header not in known:
            problems.add(1, header, f"unknown column; the columns of the {kind} file are {', '.join((*required, *optional))}")
        elif header in seen:
            problems.add(1, header, "the column appears twice")
        seen.add(header)
    for column in required:
        if column not in seen:
            problems.add(1, column, "required column is missing")
    problems.reject_if_any()

    records = len(frame)  # the header and every line, blank ones included
    frame = frame.iloc[1:]
    frame.columns = headers
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")  # the header is line 1
    _long_cells_report(frame, problems)
    frame = frame.apply(lambda cells: cells.str.strip())
    frame = frame[(frame != "").any(axis=1)]  # blank lines, often a trailing one
    if frame.empty:
        # Refused, not landed as "0 rows": a file that lost its rows on export (a filter left on, the
        # wrong sheet saved) would otherwise be reported as a successful import of nothing.
        problems.add(1, None, "the file has a header and no rows: nothing to import; put the rows under the header")
        problems.reject_if_any()
    _short_records_report(text, records, frame, len(headers), problems)
    return Sheet(kind, frame, problems)


def _long_cells_report(frame: pd.DataFrame, problems: Problems) -> None:
    """Refuse a cell longer than ``MAX_CELL`` characters, naming its row and column: no field of the
    book holds that much, and the csv module would not split such a file."""
    lengths = frame.apply(lambda cells: cells.str.len())
    for column, cells in lengths.items():
        for line in cells.index[cells > MAX_CELL]:
            problems.add(line, column, f"the cell is {cells[line]:,} characters long; a cell holds at most "
                                       f"{MAX_CELL:,}")
    problems.reject_if_any()


def _short_records_report(text: str, records: int, frame: pd.DataFrame, columns: int, problems: Problems) -> None:
    """Refuse a line with fewer cells than the header has columns: a cut-off line (or one whose
    trailing cells a tool dropped) would otherwise read as empty cells, and an empty cell clears a
    field. A line that means "empty" writes its commas (``A-300,,,,,``)."""
    counts = _cells_per_record(text)
    if len(counts) != records:
        # The csv module and pandas split the records differently (they agree on every file we
        # know of): then say nothing rather than name the wrong line.
        counts = []
    for line in frame.index:
        if counts and counts[line - 1] < columns:
            problems.add(line, None, f"the line has {counts[line - 1]} cell{'s' if counts[line - 1] != 1 else ''} and "
                                     f"the header has {columns} columns; write every column's comma, even for an "
                                     "empty cell")
    problems.reject_if_any()
