"""What the ledger's commands share: finding the firm, reading dates, printing a refused file."""

from datetime import date

from django.core.management.base import CommandError

from tenants.errors import NotFound
from tenants.models import Firm
from tenants.selectors import firm_by_slug


def firm_named(slug: str, *, active: bool = False) -> Firm:
    """The firm a command's ``--firm`` names, or a ``CommandError`` saying there is none."""
    try:
        return firm_by_slug(slug, active=active)
    except NotFound as exc:
        raise CommandError(exc.message) from None


def day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


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
