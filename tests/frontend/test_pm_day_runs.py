"""A run as the portfolio manager and the advisors follow it: a person's pending choice it would
supersede is named before it starts and after; its counts lead to its proposals in the queues,
which filter by run; an advisor reads counts of their own accounts; a household is found by part
of its name."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_process_chunk
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _pending(firm_a, account) -> Proposal:
    with tenant_context(firm_a):
        return Proposal.objects.get(account=account, status=Proposal.Status.PENDING)


def _runs(firm_a) -> int:
    with tenant_context(firm_a):
        return RebalanceRun.objects.count()


# --- 2. a person's choice is not replaced without a word ---------------------------------------------

def test_a_pending_choice_is_named_on_the_run_form_and_on_the_run_that_superseded_it(book, as_user, firm_a, people):
    # given: the portfolio manager's one-off instruction made the account's pending proposal
    account = book["mine"][0]
    chosen = _pending(firm_a, account)
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=chosen.pk).update(chosen_by=[people["pm"].pk])
    client = as_user("pm")

    # then: the run form names it before a run starts
    form = text(client.get("/runs/"))
    note = re.search(r'data-testid="chosen-pending">(.*?)</p>', form)
    assert note, "the run form does not warn about a pending proposal whose trades a person chose"
    assert f'href="/proposals/{chosen.pk}/"' in note.group(1) and account.custodian_number in note.group(1)
    assert "chosen by Pm" in note.group(1) and "supersedes" in note.group(1)

    # when: a run over chosen accounts including it is done
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                          started_by_label="test")
        run_process_chunk(run_id=run.pk, account_ids=[account.pk])
        chosen.refresh_from_db()
        assert chosen.status == Proposal.Status.SUPERSEDED
        # the engine's proposals of the other accounts, which no one chose, are not named
        other = _pending(firm_a, book["mine"][1])

    # then: the run's page says which person's choice it superseded
    page = text(client.get(f"/runs/{run.pk}/"))
    section = re.search(r'data-testid="superseded-chosen">(.*?)</section>', page)
    assert section, "the run page does not say it superseded a pending proposal a person chose"
    assert f'href="/proposals/{chosen.pk}/"' in section.group(1) and "Pm" in section.group(1)
    assert f'href="/proposals/{other.pk}/"' not in section.group(1)
    assert 'data-testid="chosen-pending"' not in text(client.get("/runs/"))  # nothing left to warn about


def test_a_run_that_superseded_only_the_engines_proposals_names_none(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                          started_by_label="test")
        run_process_chunk(run_id=run.pk, account_ids=[account.pk])

    assert 'data-testid="superseded-chosen"' not in text(as_user("pm").get(f"/runs/{run.pk}/"))


# --- 3. a run's counts lead to its proposals -----------------------------------------------------------

@pytest.fixture
def second_run(book, firm_a):
    """A later run with one pending proposal of its own (for the advisor's second account)."""
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=AS_OF, total=1, done=1,
                                          status=RebalanceRun.Status.COMPLETED)
        proposal = Proposal.objects.create(run=run, account=book["mine"][1], status=Proposal.Status.PENDING,
                                           parameters={}, inputs_fingerprint="f" * 64, result={"trades": []})
    return run, proposal


def _listed(page: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/proposals/(\d+)/"', page)}


def test_the_run_pages_waiting_count_links_to_its_proposals_on_approvals(book, as_user, firm_a, second_run):
    run = book["run"]
    client = as_user("pm")
    with tenant_context(firm_a):
        ours = set(Proposal.objects.filter(run=run, status=Proposal.Status.PENDING).values_list("pk", flat=True))

    page = text(client.get(f"/runs/{run.pk}/"))
    link = re.search(r'data-testid="run-pending"><a href="([^"]+)"', page)
    assert link, "the waiting-for-approval count is not a link"
    target = link.group(1).replace("&amp;", "&")
    assert target == f"/approvals/?view=all&run={run.pk}"

    listed = _listed(text(client.get(target)))
    assert listed == ours  # the later run's proposal is not among them
    assert _listed(text(client.get(f"/approvals/?view=all&run={second_run[0].pk}"))) == {second_run[1].pk}


def test_the_release_page_filters_by_run(book, as_user, firm_a, second_run):
    run, proposal = second_run
    client = as_user("admin")  # follows the queues without deciding

    page = text(client.get(f"/proposals/?status=pending&run={run.pk}"))

    assert _listed(page) == {proposal.pk}
    assert "Waiting for approval (1)" in page  # the tabs count the run's proposals
    assert f'href="/runs/{run.pk}/"' in page
    # a run number that is not one is refused, naming the filter
    refused = client.get("/proposals/?status=pending&run=abc")
    assert refused.status_code == 400 and "The run filter must be a run&#x27;s number" in text(refused)
    refused = as_user("pm").get("/approvals/?view=all&run=abc")
    assert refused.status_code == 400 and "The run filter must be a run&#x27;s number" in text(refused)


def test_the_run_page_links_approved_counts_to_the_release_page(book, as_user, firm_a):
    run = book["run"]
    with tenant_context(firm_a):
        Proposal.objects.filter(run=run, account=book["mine"][0]).update(status=Proposal.Status.APPROVED)

    page = text(as_user("pm").get(f"/runs/{run.pk}/"))

    assert re.search(rf'data-testid="run-approved-by-people"><a href="/proposals/\?status=approved&amp;run={run.pk}"',
                     page)


# --- 4. an advisor reads their own accounts' counts ----------------------------------------------------

def test_an_advisor_sees_the_runs_counts_over_their_own_accounts(book, as_user):
    run = book["run"]  # over 4 accounts: 2 the advisor's, 2 a colleague's
    assert run.total == 4

    page = text(as_user("advisor").get(f"/runs/{run.pk}/"))
    counts = re.search(r'data-testid="run-counts">(.*?)</dl>', page).group(1)
    assert "<dt>Your accounts</dt>" in counts
    assert re.search(r'data-testid="run-total">2</dd>', counts), counts
    assert re.search(r'data-testid="run-done">2</dd>', counts), counts
    assert ">4<" not in counts  # the colleague's book size is not told

    listing = text(as_user("advisor").get("/runs/"))
    row = re.search(rf'href="/runs/{run.pk}/">Run {run.pk}</a>.*?</tr>', listing).group(0)
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', row)[:2] == ["2", "2"]


def test_a_portfolio_manager_sees_the_whole_runs_counts(book, as_user):
    run = book["run"]

    counts = re.search(r'data-testid="run-counts">(.*?)</dl>', text(as_user("pm").get(f"/runs/{run.pk}/"))).group(1)

    assert "<dt>Accounts</dt>" in counts and re.search(r'data-testid="run-total">4</dd>', counts)


# --- 9. a household found by part of its name ----------------------------------------------------------

def test_a_household_typed_by_part_of_its_name_is_found(book, as_user, firm_a):
    household = book["mine"][0].household  # "F-000 household", one of four "... household"

    as_user("pm").post("/runs/", {"scope": "household", "household": "f-000"}, follow=True)

    with tenant_context(firm_a):
        assert RebalanceRun.objects.order_by("-pk").first().scope == {"household_id": household.pk}


def test_a_part_several_households_share_is_refused_listing_them(book, as_user, firm_a):
    before = _runs(firm_a)

    page = text(as_user("pm").post("/runs/", {"scope": "household", "household": "household"}, follow=True))

    assert ("4 households you may see match “household”: F-000 household (HH-F-000); F-001 household (HH-F-001); "
            "F-002 household (HH-F-002); F-003 household (HH-F-003). Type the ID of the one meant. No run was "
            "started.") in page
    assert _runs(firm_a) == before
