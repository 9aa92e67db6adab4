"""Approvers hear by e-mail that proposals wait for them: after each run, or in a daily digest."""

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.services.notifications import (
    approvals_digest_send,
    approvers_notify_run,
    notification_preference_set,
)
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tests.frontend.book import make_firm_book
from tests.frontend.conftest import ROLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def firm_book(firm_a, firm_user):
    people = {key: firm_user(firm_a, f"{key}@notice.example", role, first_name=key.title())
              for key, role in ROLES.items()}
    with tenant_context(firm_a):
        return people, make_firm_book(people)


def test_after_a_run_each_advisor_hears_of_their_own_proposals_only(firm_a, firm_book, mailoutbox):
    people, book = firm_book
    with tenant_context(firm_a):
        sent = approvers_notify_run(run_id=book["run"].pk)
    to = {m.to[0]: m for m in mailoutbox}
    assert sent == len(mailoutbox) == 2  # the two advisors; nothing waits for compliance or the PM
    mine = to["advisor@notice.example"]
    assert mine.subject == "2 proposals wait for your approval"
    assert all(a.custodian_number in mine.body for a in book["mine"])
    assert not any(a.custodian_number in mine.body for a in book["theirs"])
    assert "/approvals/" in mine.body
    # The day of the run, and the closes its proposals were priced with when older (the page's words)
    with tenant_context(firm_a):
        priced = Proposal.objects.filter(run=book["run"]).first().priced_on
    day = f"as of {book['run'].as_of:%b %-d, %Y}"
    assert (f"({day}, priced with closes of {priced:%b %-d, %Y})" if priced != book["run"].as_of else f"({day})") \
        in mine.body


def test_the_e_mail_links_to_the_firms_approvals_page_on_the_port_it_is_served(firm_a, firm_book, mailoutbox):
    _, book = firm_book
    with override_settings(SITE_SCHEME="http", SITE_PORT=8000), tenant_context(firm_a):
        approvers_notify_run(run_id=book["run"].pk)
    assert mailoutbox
    assert all(f"http://{firm_a.primary_domain}:8000/approvals/" in m.body for m in mailoutbox)


def test_the_daily_digest_goes_only_to_those_who_chose_it_and_off_means_off(firm_a, firm_book, mailoutbox):
    people, book = firm_book
    with tenant_context(firm_a):
        notification_preference_set(user=people["advisor"], approvals="daily")
        notification_preference_set(user=people["colleague"], approvals="off")
        assert approvers_notify_run(run_id=book["run"].pk) == 0  # neither wants a mail per run
        assert approvals_digest_send() == 1
        assert AuditEvent.objects.filter(action="user.notifications").count() == 2
        Proposal.objects.filter(account__in=book["mine"]).update(status=Proposal.Status.APPROVED)
        assert approvals_digest_send() == 0  # nothing waits any more
    assert [m.to for m in mailoutbox] == [["advisor@notice.example"]]
    assert mailoutbox[0].subject == "Daily digest: 2 proposals wait for your approval"


def test_an_unknown_choice_is_refused(firm_a, firm_book):
    people, _ = firm_book
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed, match="Choose how you want to hear"):
            notification_preference_set(user=people["advisor"], approvals="hourly")


def test_a_finished_run_sends_the_notice_after_commit(firm_a, firm_book, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from rebalancing import dispatch
    from rebalancing.models import RebalanceRun
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    people, book = firm_book
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, args)))
    with tenant_context(firm_a):
        Proposal.objects.update(status=Proposal.Status.REJECTED)
        with django_capture_on_commit_callbacks(execute=True):
            run = run_start(scope=RunScope(firm=True), as_of=book["run"].as_of)
            for chunk in run_chunks(run):
                run_process_chunk(run_id=run.pk, account_ids=chunk)
        assert RebalanceRun.objects.get(pk=run.pk).status == RebalanceRun.Status.COMPLETED
    assert (dispatch.APPROVERS_NOTIFY, (run.pk,)) in sent


def test_the_notices_page_saves_ones_own_choice(firm_a, firm_book, client_for):
    people, _ = firm_book
    client = client_for(firm_a, people["compliance"])
    page = client.get("/notices/").content.decode()
    assert 'value="each_run" checked' in page
    assert client.post("/notices/", {"approvals": "daily"}).status_code == 302
    assert 'value="daily" checked' in client.get("/notices/").content.decode()
    assert client.post("/notices/", {"approvals": "weekly"}).status_code == 400
    assert client_for(firm_a, people["admin"]).get("/notices/").status_code == 403  # admins approve nothing


def _revise_with_two_advisors(people, book):
    """The advisor drops a trade of their proposal for an account the colleague advises too."""
    from rebalancing.services.people import household_advisors_set
    from rebalancing.services.revisions import proposal_resolve

    account = book["mine"][0]
    household_advisors_set(household=account.household, advisors=[people["advisor"], people["colleague"]],
                           by=None)
    old = Proposal.objects.get(run=book["run"], account=account)
    dropped = old.result["trades"][0]
    new = proposal_resolve(proposal=old, drop_symbols=[dropped["symbol"]], by=people["advisor"])
    return old, new, dropped


def test_a_revised_proposal_is_mailed_after_commit_to_its_approvers_but_the_one_who_edited_it(
        firm_a, firm_book, mailoutbox, monkeypatch, django_capture_on_commit_callbacks):
    from rebalancing import dispatch

    people, book = firm_book
    queued = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: queued.append((task, args)))
    with tenant_context(firm_a):
        with django_capture_on_commit_callbacks(execute=True):
            old, new, dropped = _revise_with_two_advisors(people, book)
        assert queued == [(dispatch.APPROVERS_NOTIFY, (new.run_id,))]
        sent = approvers_notify_run(run_id=new.run_id)  # what the queued task does

    # Not the advisor who edited it; compliance when the policy asks for its approval too.
    to = {m.to[0]: m for m in mailoutbox}
    expected = {"colleague@notice.example"} | ({"compliance@notice.example"} if new.requires_compliance else set())
    assert sent == len(mailoutbox) == len(expected) and set(to) == expected
    mail = to["colleague@notice.example"]
    number = book["mine"][0].custodian_number
    assert mail.subject == f"Proposal #{new.pk} for account {number}, revised by Advisor, waits for your approval"
    assert f"edited proposal #{old.pk} for account {number} (dropped the {dropped['side']} of {dropped['symbol']})" \
        in mail.body
    assert "/approvals/" in mail.body


@pytest.mark.parametrize("choice", ["daily", "off"])
def test_a_revision_respects_the_approvers_choice_of_notices(firm_a, firm_book, mailoutbox, choice):
    people, book = firm_book
    with tenant_context(firm_a):
        notification_preference_set(user=people["colleague"], approvals=choice)
        notification_preference_set(user=people["compliance"], approvals="off")
        Proposal.objects.filter(run=book["run"]).exclude(account=book["mine"][0]).update(
            status=Proposal.Status.REJECTED)  # only the revised proposal waits
        _, new, _ = _revise_with_two_advisors(people, book)
        assert approvers_notify_run(run_id=new.run_id) == 0
        digests = approvals_digest_send()
    assert digests == (1 if choice == "daily" else 0)
    assert [m.subject for m in mailoutbox] == (
        ["Daily digest: 1 proposal waits for your approval"] if choice == "daily" else [])
