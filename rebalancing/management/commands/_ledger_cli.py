"""What the ledger's commands share: finding the firm, reading dates, printing a refused file."""

from datetime import date

from django.core.management.base import CommandError

from tenants.errors import DomainError, NotFound
from tenants.models import Firm
from tenants.selectors import firm_by_slug


def firm_named(slug: str, *, active: bool = False) -> Firm:
    """The firm a command's ``--firm`` names, or a ``CommandError`` saying there is none."""
    try:
        return firm_by_slug(slug, active=active)
    except NotFound as exc:
        raise CommandError(exc.message) from None


def day(text: str, option: str) -> date:
    """A day given to an option, written YYYY-MM-DD in the digits 0-9 (``date.fromisoformat`` alone would
    also read 20261204, 2026-W49-5 and other ISO forms nobody means)."""
    try:
        if not (len(text) == 10 and text.isascii() and text[4] == text[7] == "-"):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


def book_day(text: str, option: str) -> date:
    """A day the book is read on (a file's ``--as-of``): a date (``day``), from 1900 to today, by the rule
    the API and the CSV imports apply (``engine_inputs.book_day_check``)."""
    from rebalancing.engine_inputs import book_day_check

    try:
        return book_day_check(day(text, option), what=f"{option} day")
    except DomainError as exc:
        raise CommandError(exc.message) from None


def rejection_print(stderr, detail: dict) -> None:
    """The row-level report of a refused file, as ``import_book`` prints it."""
    stderr.write(f"{'row':>7}  {'column':<24}  problem")
    for problem in detail["problems"]:
        stderr.write(f"{problem['row']:>7}  {problem['column'] or '-':<24}  {problem['problem']}")
    if detail["total"] > detail["shown"]:
        stderr.write(f"... and {detail['total'] - detail['shown']} more problems.")


def output(command, text: str, path: str | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    else:
        command.stdout.write(text, ending="")
