"""Importing a firm's book from custodian CSV files (formats: docs/csv-formats.md).

Each kind has its own service; ``book_import`` picks one by name for the command, the admin and the
API. A file is validated whole and refused with a row-level report (``ImportRejected``) or written in
one transaction; importing the same file again changes nothing.
"""

from collections.abc import Callable
from datetime import date

from django.db import transaction

from rebalancing.engine_inputs import book_day_check
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed

from .accounts import accounts_import
from .benchmarks import benchmark_weights_import
from .lots import lots_import
from .model_weights import model_weights_import
from .prices import prices_import
from .report import ImportRejected, ImportSummary
from .securities import securities_import
from .sheet import Source
from .trades import trades_import

__all__ = [
    "KINDS", "ImportRejected", "ImportSummary", "accounts_import", "benchmark_weights_import", "book_import",
    "PERSON_KINDS", "lots_import", "model_weights_import", "prices_import", "securities_import", "trades_import",
]

# In the order a new firm loads them: later kinds refer to what earlier ones create.
KINDS: dict[str, Callable[..., ImportSummary]] = {
    "securities": securities_import,
    "prices": prices_import,
    "benchmark_weights": benchmark_weights_import,
    "accounts": accounts_import,
    "lots": lots_import,
    "trades": trades_import,
}

# Kinds written through a service that acts as a person (it checks their role and names them the
# author, as the page the same change is made on does): taken by the firm's Import page, which has the
# person; not (yet) listed for the command, the admin or the API, which offer ``KINDS``.
PERSON_KINDS: dict[str, Callable[..., ImportSummary]] = {
    "model_weights": model_weights_import,
}


def book_import(*, kind: str, source: Source, as_of: date | None = None, by=None) -> ImportSummary:
    """Import one CSV file of ``kind`` into the current firm's schema.

    ``source`` is a path, the file's bytes, or a file object (e.g. an upload). ``as_of`` is the day
    dates are checked against (default today; from 1900 to today, as for runs). ``by``: the user (or
    process name) recorded in the audit trail. Raises ``ImportRejected`` with the report, nothing written.
    """
    if as_of is not None:
        # A day after today would let a file's future dates (a price of 9999-12-30) through its
        # "not in the future" checks and make them every run's latest price.
        book_day_check(as_of, what="day the file is read on (as_of)")
    if kind in PERSON_KINDS:
        if not hasattr(by, "pk"):
            raise ValidationFailed(f"A {kind.replace('_', ' ')} file is imported by a person (the Import page), "
                                   "whose role is checked and who is named its author.", detail={"field": "kind"})
        # The service audits each change itself (a model's new version, "model.version"), noting the file.
        name = (getattr(source, "name", "") or "")[:200]  # the version's note holds 300 characters
        with transaction.atomic():
            return PERSON_KINDS[kind](source=source, as_of=as_of, user=by,
                                      note=f"imported from {name}" if name else "imported from a file")
    try:
        service = KINDS[kind]
    except KeyError:
        raise ValidationFailed(
            f"Unknown kind of file {kind!r}; the kinds are {', '.join(KINDS)}.", detail={"field": "kind"}
        ) from None
    with transaction.atomic():
        summary = service(source=source, as_of=as_of)
        # A refused file raised above: only what landed is audited, in the same transaction.
        audit_record(actor=by or "import", action=f"import.{kind}", object_type="import",
                     after=summary.as_audit(), comment=getattr(source, "name", "") or "")
    return summary
