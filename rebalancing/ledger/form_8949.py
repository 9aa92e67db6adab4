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

Pure: no Django; the report (``reports.realised_gains``) passes each sold lot's facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["FUND_FROM", "STOCK_FROM", "Box", "box_of", "schedule_d_line"]

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
    no code, no adjustment, a basis the broker could have reported as it stands - may be summed
    straight onto line 1a or 8a (Form 8949 instructions, Exception 1); every other one goes on the
    line of its Form 8949 box (1b, 2, 3; 8b, 9, 10)."""
    if not adjusted and letter in _SUMMARY_LINES:
        return _SUMMARY_LINES[letter]
    return _LINES[letter]
