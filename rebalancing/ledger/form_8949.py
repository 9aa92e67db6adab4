"""Which Form 8949 box a sale belongs in, and the Schedule D line its total goes on.

Form 8949 sorts sales by what the broker's Form 1099-B told the IRS (Instructions for Form 8949):
Part I (short-term) Box A - on a 1099-B with the basis reported to the IRS; Box B - on a 1099-B,
basis not reported; Box C - on no 1099-B. Part II (long-term) Boxes D, E, F likewise. A broker
reports the basis of a *covered* security only (IRC §6045(g)(2)): one acquired on or after its
applicable date - stock 2011-01-01, stock of a regulated investment company (a fund) or bought
through a dividend reinvestment plan 2012-01-01, most debt and options 2014-01-01 (§6045(g)(3);
Treas. Reg. §1.6045-1(a)(15); IRS "Cost Basis Reporting FAQs") - and either bought for cash in the
account, or transferred into it with a transfer statement reporting it covered (§6045(g)(3)(A)(ii),
§6045A; Treas. Reg. §1.6045A-1): shares given or inherited are covered only if they were in the
donor's or the decedent's hands.

Every sale the ledger books is made through the account's custodian, a broker that files a 1099-B
for it (§6045(a)): Box C and F never apply. Where the ledger cannot know whether the broker reported
the basis, the sale goes in Box B or E - every figure on Form 8949, never summed onto Schedule D's
line 1a or 8a - and the reason says what to check (the 1099-B's "basis reported to the IRS" box).

Columns (e) to (g) against the 1099-B (``wash_in``, ``as_reported``, ``columns_of``). A broker adjusts a
covered security's basis and holding period for a wash sale only where the loss sale and the purchase
were of the identical security (same CUSIP) in the same account (Treas. Reg. §1.6045-1(d)(6)(iii)).
A loss from another account - the spouse's, the taxpayer's other account - or from a substantially
identical security is not on the 1099-B: its box 1e shows the basis without it and box 2 the term of
the shares' own holding period. The Instructions for Form 8949 ("How To Complete Form 8949, Columns
(f) and (g)") then ask for code B ("the basis shown in box 1e is incorrect"): in Box A or D, column (e)
is the basis the 1099-B shows and column (g) the correction (a basis increase is a negative
adjustment); in Box B or E, column (e) is the correct basis and the code B amount in (g) is -0-. Code T
("the type of gain or loss shown in box 2 is incorrect"): the line goes in the part of the true term,
-0- in (g) for it. Several codes: all of them in alphabetical order, their amounts netted in (g).
Column (h) = (d) - (e) + (g) is the same whichever way the basis is split between (e) and (g).

Pure: no Django; ``reports.realised_rows`` passes each sold lot's facts (for the realised gains
report and the account's ledger page alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from rebalancing.engine.tax import replacement_start

__all__ = ["FUND_FROM", "STOCK_FROM", "AsReported", "Box", "Columns", "WashIn", "as_reported", "box_of",
           "columns_of", "schedule_d_line", "wash_in"]

_ZERO = Decimal(0)
_CENT = Decimal("0.01")

STOCK_FROM = date(2011, 1, 1)  # Treas. Reg. §1.6045-1(a)(15)(i)(A): stock other than below
FUND_FROM = date(2012, 1, 1)  # ... (a)(15)(i)(B): stock of a regulated investment company, or from a DRP

# (part, basis reported to the IRS) -> box; no 1099-B (C, F) is never the ledger's case.
_BOXES = {("short", True): "A", ("short", False): "B", ("long", True): "D", ("long", False): "E"}
# Schedule D's line for each box's total; A and D with no adjustment may go on 1a / 8a (Exception 1).
_LINES = {"A": "1b", "B": "2", "C": "3", "D": "8b", "E": "9", "F": "10"}
_SUMMARY_LINES = {"A": "1a", "D": "8a"}


@dataclass(frozen=True)
class Box:
    """A sale's box (``letter``), whether its basis was reported to the IRS (None: the ledger
    cannot know, and the box is B or E), and why, in words for the tax preparer."""

    letter: str
    basis_reported: bool | None
    reason: str

    @property
    def known(self) -> bool:
        return self.basis_reported is not None

    @property
    def reported_words(self) -> str:
        return {True: "yes", False: "no", None: "unknown"}[self.basis_reported]


def box_of(*, term: str, fund: bool, bought: date, in_account: bool, gift: bool, inherited: bool) -> Box:
    """The box of a sold lot: ``bought`` is when the shares were bought (the donor's purchase for a
    gift, the day they passed for an inherited lot; never the holding period a wash sale moved back);
    ``in_account`` that the ledger's own buy fill in this account made the lot (bought for cash
    there); ``fund`` that the security is a fund (stock of a regulated investment company).

    Reasons hold no comma: a spreadsheet user may split the CSV's lines on commas."""
    start = FUND_FROM if fund else STOCK_FROM
    kind = "a fund's shares are" if fund else "stock is"
    since = f"{kind} covered when acquired from {start.isoformat()} on"

    def box(reported: bool | None, reason: str) -> Box:
        return Box(_BOXES[(term, bool(reported))], reported, reason)

    if inherited:
        return box(None, "inherited: covered only if the decedent's shares were covered and the estate's transfer "
                         "statement said so (Treas. Reg. §1.6045A-1); the ledger keeps the day they passed and not the "
                         "decedent's purchase; reported with every figure - check the 1099-B's basis-reported box")
    if bought < start:
        whose = "the donor bought them" if gift else "bought"
        return box(False, f"not a covered security: {whose} on {bought.isoformat()} and {since} "
                          "(Treas. Reg. §1.6045-1(a)(15)); the broker does not report the basis to the IRS")
    if gift:
        return box(None, f"a gift: the donor bought on {bought.isoformat()} ({since}) but a gift is "
                         "covered only if the donor's broker's transfer statement reported it covered (Treas. Reg. "
                         "§1.6045A-1) and the ledger does not know; reported with every figure - check the "
                         "1099-B's basis-reported box")
    if in_account:
        return box(True, f"a covered security: bought in this account by the ledger's fill on {bought.isoformat()} "
                         f"({since}: Treas. Reg. §1.6045-1(a)(15)); the broker reports the basis to the IRS")
    return box(None, f"from the custodian's lots file: bought on {bought.isoformat()} ({since}) but the "
                     "file does not say whether the shares were bought in this account or transferred in with a "
                     "statement reporting them covered (IRC §6045(g)(3)); reported with every figure - check the "
                     "1099-B's basis-reported box")


def schedule_d_line(letter: str, *, adjusted: bool) -> str:
    """Schedule D's line for a line of ``letter``'s box: a Box A or D sale with nothing to adjust -
    no code in column (f), nothing in (g), the 1099-B's basis and term as they stand - may be summed
    straight onto line 1a or 8a (Form 8949 instructions, Exception 1); every other one (a code B, T
    or W among them) goes on the line of its Form 8949 box (1b, 2, 3; 8b, 9, 10)."""
    if not adjusted and letter in _SUMMARY_LINES:
        return _SUMMARY_LINES[letter]
    return _LINES[letter]


# --- Columns (e) to (g) against the 1099-B -------------------------------------------------------

@dataclass(frozen=True)
class WashIn:
    """Basis a wash sale added to a sold lot (``added``: a ``BasisAdjustment`` whose replacement
    shares the lot sold), the part of it the broker's 1099-B includes (``known``), and where the
    broker's holding period starts through it (``start``; None: the broker did not tack it)."""

    added: Decimal
    known: Decimal
    start: date | None


def wash_in(*, added: Decimal, same_account: bool, identical: bool, source_loss: Decimal, source_unknown: Decimal,
            bought: date, source_sold: date, source_start: date) -> WashIn:
    """What the broker knows of one wash sale into a lot bought on ``bought``: nothing unless the
    loss sale was in the same account and of the identical security (Treas. Reg. §1.6045-1(d)(6)(iii));
    then the loss as its own figures show it - ``source_loss`` less the basis its 1099-B left out of
    the loss sale (``source_unknown``, a chain) - in the share this replacement took, and the loss
    sale's holding period as the broker reckons it (``source_start``, IRC §1223(3))."""
    if not (same_account and identical) or added <= 0 or source_loss <= 0:
        return WashIn(added, _ZERO, None)
    broker_loss = source_loss - source_unknown
    if broker_loss <= 0:  # on the broker's figures the sale was no loss: nothing washed, nothing tacked
        return WashIn(added, _ZERO, None)
    known = added if not source_unknown else (added * broker_loss / source_loss).quantize(_CENT, ROUND_HALF_UP)
    return WashIn(added, known, replacement_start(bought, source_sold, source_start))


@dataclass(frozen=True)
class AsReported:
    """A sold lot as its broker's 1099-B shows it: the basis wash sales added that box 1e leaves
    out (``unknown``), and where the holding period starts that box 2's term is judged from."""

    unknown: Decimal
    start: date


def as_reported(*, acquired: date, purchased: date, wash_basis: Decimal, washes: list[WashIn]) -> AsReported:
    """``acquired``: the holding period's start after every wash sale; ``purchased``: the shares' own
    purchase. Basis a wash sale added with no record of where the loss came from (``wash_basis``
    above the records' sum) is taken as the broker's: the ledger cannot say otherwise."""
    if not washes:
        return AsReported(_ZERO, acquired)
    unknown = min(sum((w.added - w.known for w in washes), _ZERO), wash_basis)
    return AsReported(unknown, min([purchased, *(w.start for w in washes if w.start is not None)]))


@dataclass(frozen=True)
class Columns:
    """Form 8949's columns (e) cost basis, (f) code(s), (g) adjustment for one line."""

    cost_basis: Decimal
    code: str
    adjustment: Decimal


def columns_of(*, letter: str, cost_basis: Decimal, disallowed: Decimal, unknown: Decimal, term: str,
               reported_term: str) -> Columns:
    """``cost_basis``: the basis after every wash sale; ``disallowed``: the wash-sale loss disallowed
    (code W); ``unknown``: of the basis, what the 1099-B leaves out (code B); ``reported_term``: the
    1099-B's term (code T where it is not ``term``). Box A/D: column (e) is the 1099-B's basis and
    (g) corrects it; Box B/E: (e) is the correct basis and code B adds nothing to (g) (Instructions
    for Form 8949, code B). Codes in alphabetical order, amounts netted in (g) (same instructions)."""
    codes = {"B": unknown > 0, "T": term != reported_term, "W": disallowed > 0}
    code = "".join(c for c in sorted(codes) if codes[c])
    if letter in _SUMMARY_LINES:  # basis reported to the IRS: the 1099-B's, corrected in (g)
        return Columns(cost_basis - unknown, code, disallowed - unknown)
    return Columns(cost_basis, code, disallowed)

