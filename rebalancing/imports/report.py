"""What an import tells its caller: a summary when it lands, a row-level report when it is refused."""

from collections.abc import Iterable
from dataclasses import dataclass

from tenants.errors import ValidationFailed

__all__ = ["MAX_PROBLEMS_SHOWN", "ImportRejected", "ImportSummary", "Problem", "Problems"]

# Enough to fix a file by; a file that is wrong on every line would otherwise make a megabyte answer.
MAX_PROBLEMS_SHOWN = 200
# A kind in words, in messages ("The cash-flow file was refused"); the rest read as they are.
KIND_WORDS = {"cash_flows": "cash-flow", "model_weights": "model-weights", "benchmark_weights": "benchmark-weights"}


class ImportRejected(ValidationFailed):
    """A file refused whole. ``detail`` = {"kind", "total", "shown", "problems": [{"row", "column", "problem"}]}."""

    code = "import_rejected"


@dataclass(frozen=True)
class Problem:
    row: int  # line in the file, the header being line 1
    column: str | None
    problem: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "problem": self.problem}

    def __str__(self) -> str:
        return f"row {self.row}, {self.column or 'whole line'}: {self.problem}"


@dataclass(frozen=True)
class ImportSummary:
    """What a landed import did, counted in rows of the file's kind."""

    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    deleted: int = 0  # replaced away (lots of an account, weights of a benchmark date)
    notes: tuple[str, ...] = ()  # side effects on other tables, e.g. "1 household created"

    def as_audit(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "deleted": self.deleted, "notes": list(self.notes)}

    def __str__(self) -> str:
        text = (
            f"{self.kind}: {self.rows} rows, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted"
        )
        return "; ".join([text, *self.notes])


class Problems:
    """The problems found in one file, in the order found; sorted by row when reported."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: list[Problem] = []

    def add(self, row: int, column: str | None, problem: str) -> None:
        self._items.append(Problem(int(row), column, problem))

    def add_rows(self, rows: Iterable[int], column: str | None, problem: str) -> None:
        for row in rows:
            self.add(row, column, problem)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def rows(self) -> set[int]:
        """The lines with a problem found so far."""
        return {p.row for p in self._items}

    def sorted(self) -> list[Problem]:
        return sorted(self._items, key=lambda p: p.row)  # stable: columns keep their checking order

    def reject_if_any(self) -> None:
        if not self._items:
            return
        problems = self.sorted()
        shown = problems[:MAX_PROBLEMS_SHOWN]
        total = len(problems)
        raise ImportRejected(
            f"The {KIND_WORDS.get(self.kind, self.kind)} file was refused ({total} problem{'s' if total != 1 else ''}; "
            f"first: {problems[0]}). Nothing was imported.",
            detail={
                "kind": self.kind,
                "total": total,
                "shown": len(shown),
                "problems": [p.as_dict() for p in shown],
            },
        )
