"""An account's drift alert leads to the proposal that stands for the account: when the proposal its
run made is superseded (by a withdrawal's or a later run's proposal, by a one-off instruction's), the
alert moves to the run of the one that replaced it; the account page linked the superseded one."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Alert, Proposal
from rebalancing.services.proposals import S, _move, proposals_supersede
from tests.rebalancing.book import make_book
from tests.rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db


def drifted(account) -> tuple[Proposal, Alert]:
    first = make_proposal(account, status=S.PENDING)
    alert = Alert.objects.create(account=account, run=first.run, kind=Alert.Kind.DRIFT,
                                 message="drift 12.0% is beyond its band")
    return first, alert


def test_a_proposal_superseded_by_a_later_runs_takes_its_drift_alert_along(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        first, alert = drifted(account)
        later = make_proposal(account, status=S.DRAFT)

        assert proposals_supersede(account_ids=[account.pk], by_run_id=later.run_id) == 1

        alert.refresh_from_db()
        assert alert.run_id == later.run_id and alert.resolved_at is None


def test_a_proposal_superseded_one_by_one_takes_its_drift_alert_along(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        first, alert = drifted(account)
        instruction = make_proposal(account, status=S.DRAFT)

        _move(Proposal.objects.get(pk=first.pk), S.SUPERSEDED, actor=None, action="proposal.supersede")

        alert.refresh_from_db()
        assert alert.run_id == instruction.run_id


def test_an_alert_whose_proposal_stands_or_that_nothing_replaced_stays(firm_a):
    with tenant_context(firm_a):
        one, two = make_book(2)["accounts"]
        standing, kept = drifted(one)
        make_proposal(two, status=S.DRAFT)  # another account's: not this alert's
        gone, alone = drifted(two)
        Proposal.objects.filter(account=two).exclude(pk=gone.pk).delete()

        _move(Proposal.objects.get(pk=gone.pk), S.SUPERSEDED, actor=None, action="proposal.supersede")

        kept.refresh_from_db()
        alone.refresh_from_db()
        assert kept.run_id == standing.run_id  # its proposal still stands
        assert alone.run_id == gone.run_id  # nothing stands after it: no proposal to lead to

