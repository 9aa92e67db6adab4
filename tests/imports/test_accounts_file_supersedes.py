"""An accounts file that changes what an account's open proposals (pending approval, approved not
released) were solved or decided under - its model, the template that governs it, its household, its
tax status, whether it is discretionary, and (in a household managed as one) the asset classes it may
hold - supersedes them, as the same change on a page, through the API or in the admin does
(``settings_changed_supersede``): each is audited with the change, and the import's summary counts
them. Only those: the same file again, or a row that changes nothing they depend on, supersedes
nothing. A return's rates restate the open proposals' estimates instead, as the household page's
change does (tests/rebalancing/test_accounts_file_returns.py)."""

import random
from datetime import date

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing.imports import accounts_import
from rebalancing.models import Household, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError
from tenants.roles import FirmRole
from tests.rebalancing.book import AS_OF, make_book, make_model, make_template
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
HEADER = ("account_number,account_name,household_id,model,template,tax_status,discretionary,short_term_rate,"
          "long_term_rate,asset_classes\n")
# T-000..T-002 as make_book stores them (each in its own household HH-T-00n, under its template "standard").
AS_STORED = {"model": "balanced", "template": "", "tax_status": "taxable", "discretionary": "yes",
             "short_term_rate": "0.37", "long_term_rate": "0.2", "asset_classes": ""}


def _file(rows: list[dict]) -> bytes:
    lines = [HEADER]
    for row in rows:
        cells = {**AS_STORED, **row}
        lines.append(f"{row['number']},Account {row['number']},{cells.get('household', 'HH-' + row['number'])},"
                     + ",".join(cells[c] for c in ("model", "template", "tax_status", "discretionary",
                                                   "short_term_rate", "long_term_rate", "asset_classes")) + "\n")
    return "".join(lines).encode()


def _run(scope: RunScope):
    run = run_start(scope=scope, as_of=AS_OF)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return run


def _statuses(run) -> dict[str, str]:
    return dict(Proposal.objects.filter(run=run).values_list("account__custodian_number", "status"))


def _superseded_note(summary) -> list[str]:
    return [n for n in summary.notes if "superseded" in n]


@pytest.fixture
def people(firm_a, firm_user):
    return {"advisor": firm_user(firm_a, "adv@acf.example", FirmRole.ADVISOR),
            "pm": firm_user(firm_a, "pm@acf.example", FirmRole.PORTFOLIO_MANAGER)}


@pytest.fixture
def book(firm_a, people):
    """T-000..T-002 on the model "balanced" under "standard"; "growth" and "cautious" to move them to."""
    with tenant_context(firm_a):
        made = make_book(3, advisor=people["advisor"])
        make_model("growth", sleeves=(("us_equity", "0.7", {"ITOT": "1"}), ("bonds", "0.3", {"AGG": "1"})))
        make_template("cautious")
        policy(auto_approve=False, max_price_age_days=3650)
        yield made


def test_a_changed_model_or_tax_status_supersedes_the_accounts_open_proposals_and_only_theirs(book, people):
    run = _run(RunScope(firm=True))
    assert _statuses(run) == {"T-000": S.PENDING, "T-001": S.PENDING, "T-002": S.PENDING}
    approved = Proposal.objects.get(run=run, account__custodian_number="T-001")
    proposal_approve(proposal=approved, user=people["advisor"], today=AS_OF)  # approved, not released

    # Given a file moving T-000 to another model, making the IRA of T-001 and restating T-002 as it is
    file = _file([{"number": "T-000", "model": "growth"}, {"number": "T-001", "tax_status": "traditional"},
                  {"number": "T-002"}])
    summary = accounts_import(source=file, as_of=AS_OF)

    # Then the two changed accounts' proposals give way, saying why; T-002's stays open
    assert _statuses(run) == {"T-000": S.SUPERSEDED, "T-001": S.SUPERSEDED, "T-002": S.PENDING}
    assert _superseded_note(summary) == ["2 open proposals of accounts whose settings the file changed superseded: "
                                         "rebalance them again"]
    comment = {e.object_id: e.comment for e in AuditEvent.objects.filter(action="proposal.supersede")}
    assert "model changed from “Balanced” to “Growth”" in comment[str(
        Proposal.objects.get(run=run, account__custodian_number="T-000").pk)]
    assert "tax status changed from taxable to traditional" in comment[str(approved.pk)]
    # ...and the approved one made for a taxable account is not released into the IRA
    approved.refresh_from_db()
    with pytest.raises(DomainError):
        proposal_release(proposal=approved, user=people["pm"], today=AS_OF)

    # When the same file comes again after a new run, nothing is superseded
    again = _run(RunScope(firm=True))
    summary = accounts_import(source=file, as_of=AS_OF)
    assert set(_statuses(again).values()) == {S.PENDING} and _superseded_note(summary) == []


def test_a_move_to_another_household_supersedes_and_says_where_from_and_to(book):
    run = _run(RunScope(firm=True))
    Household.objects.create(name="Okafor family", external_id="HH-OK")

    summary = accounts_import(source=_file([{"number": "T-002", "household": "HH-OK"}]), as_of=AS_OF)

    assert _statuses(run) == {"T-000": S.PENDING, "T-001": S.PENDING, "T-002": S.SUPERSEDED}
    assert len(_superseded_note(summary)) == 1
    event = AuditEvent.objects.get(action="proposal.supersede")
    assert "moved from household “T-002 household” to “Okafor family”" in event.comment
    # Its template was the household's it left: the new one has none
    assert "template changed from “Standard” to none" in event.comment


@pytest.fixture
def lees(firm_a):
    """The Lees, a household managed as one, with its run's proposal (three legs) pending approval."""
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10,
               compliance_min_estimated_tax=10**9)
        made = make_unit_household()
        made["run"] = _run(RunScope(household_id=made["household"].pk))
        assert set(_statuses(made["run"]).values()) == {S.PENDING}
        yield made


def test_the_asset_classes_of_an_account_of_a_household_managed_as_one_supersede_its_whole_proposal(lees):
    file = (b"account_number,account_name,household_id,asset_classes\n"
            b"LEE-JT,Account LEE-JT,HH-LEE,us_equity\nLEE-IRA,Account LEE-IRA,HH-LEE,\n")

    summary = accounts_import(source=file, as_of=AS_OF)

    # Solved as one: the joint account's change takes the IRA's and the Roth's legs with it
    assert set(_statuses(lees["run"]).values()) == {S.SUPERSEDED}
    assert _superseded_note(summary) == ["3 open proposals of accounts whose settings the file changed superseded: "
                                         "rebalance them again"]
    comments = set(AuditEvent.objects.filter(action="proposal.supersede").values_list("comment", flat=True))
    assert any("asset classes it may hold changed from any to us_equity" in c for c in comments)


class _Undo(Exception):
    pass


def _expected(rows: list[dict], status_of: dict[str, str]) -> set[str]:
    """Deliberately simple: which accounts' open proposals a file's rows should supersede."""
    out = set()
    for row in rows:
        cells = {**AS_STORED, **row}
        own_household = cells.get("household", "HH-" + row["number"]) == "HH-" + row["number"]
        household_template = "standard" if own_household else ("cautious" if "SPARE" in cells["household"] else "")
        changed = (cells["model"] != "balanced"
                   or (cells["template"] or household_template) != "standard"
                   or not own_household
                   or cells["tax_status"] not in ("", "taxable")
                   or cells["discretionary"] == "no")
        # Not the rates (restated, not superseded), nor asset_classes: its households are managed account
        # by account, where no proposal depends on them
        if changed and status_of[row["number"]] in (S.PENDING, S.APPROVED, S.DRAFT):
            out.add(row["number"])
    return out


def test_random_files_supersede_exactly_the_open_proposals_of_the_accounts_they_changed(book):
    """Many random files, each row changing (or restating as stored) any of the settings, against
    proposals in random states: those superseded are exactly the open ones of the accounts changed."""
    accounts = {a.custodian_number: a for a in book["accounts"]}
    for number in accounts:  # an empty household of its own for each to move to, under "cautious"
        Household.objects.create(name=f"Spare {number}", external_id=f"HH-SPARE-{number}",
                                 template=book["template"].__class__.objects.get(code="cautious"))
    rng = random.Random(7)
    choices = {"model": ["balanced", "balanced", "growth", ""], "template": ["", "", "standard", "cautious"],
               "tax_status": ["", "taxable", "taxable", "traditional", "roth"], "discretionary": ["", "yes", "no"],
               "short_term_rate": ["", "0.37", "0.37", "0.35"], "long_term_rate": ["", "0.2", "0.20", "0.15"],
               "asset_classes": ["", "us_equity", "bonds|us_equity"]}
    seen = set()
    for _case in range(40):
        status_of = {n: rng.choice([S.PENDING, S.APPROVED, S.REJECTED]) for n in accounts}
        rows = []
        for number in rng.sample(sorted(accounts), rng.randint(1, 3)):
            row = {"number": number}
            for column in rng.sample(sorted(choices), rng.randint(0, 2)):
                row[column] = rng.choice(choices[column])
            if rng.random() < 0.15:
                row["household"] = rng.choice([f"HH-SPARE-{number}", f"HH-NEW-{number}"])
            rows.append(row)
        expected = _expected(rows, status_of)
        try:
            with transaction.atomic():
                proposals = {n: make_proposal(a, status=status_of[n], as_of=date(2026, 11, 19))
                             for n, a in accounts.items()}
                summary = accounts_import(source=_file(rows), as_of=AS_OF)
                superseded = {n for n, p in proposals.items()
                              if Proposal.objects.get(pk=p.pk).status == S.SUPERSEDED}
                assert superseded == expected, rows
                assert _superseded_note(summary) == ([
                    f"{len(expected)} open proposal{'s' if len(expected) != 1 else ''} of accounts whose settings "
                    f"the file changed superseded: rebalance {'them' if len(expected) != 1 else 'it'} again"]
                    if expected else [])
                seen.add(bool(expected))
                raise _Undo
        except _Undo:
            pass
    assert seen == {True, False}
