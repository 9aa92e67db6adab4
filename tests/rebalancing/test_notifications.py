"""Approvers hear by e-mail that proposals wait for them: after each run, or in a daily digest."""

import pytest
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
