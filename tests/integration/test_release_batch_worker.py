"""Releasing every approved proposal with committed rows: four portfolio managers asking at the same
moment start one release, and a real worker process releases it in the firm's schema."""

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.models import (
    ApprovalPolicy,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    Proposal,
    RebalanceRun,
    ReleaseBatch,
    Security,
)
from rebalancing.services.release_batches import release_batch_start
from tenants.audit.models import AuditEvent
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..rebalancing.book import make_book
from ..rebalancing.workflow import make_proposal, policy
from .conftest import at_once, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            pm = user_ensure(username="pm@release-all.example", email="pm@release-all.example",
                             roles=[FirmRole.PORTFOLIO_MANAGER])
            policy(max_price_age_days=3650)
            book = make_book(3)
            proposals = [make_proposal(a, status=Proposal.Status.APPROVED) for a in book["accounts"]]
        yield firm, pm, proposals
        with tenant_context(firm):
            ReleaseBatch.objects.all().delete()
            RebalanceRun.objects.all().delete()
            for account in book["accounts"]:
                account.delete()
            Household.objects.all().delete()
            ModelPortfolio.objects.all().delete()
            ParameterTemplate.objects.all().delete()
            Price.objects.all().delete()
            Security.objects.all().delete()
            ApprovalPolicy.objects.all().delete()


def test_four_asking_at_once_start_one_release(committed, django_db_blocker, monkeypatch):
    firm, pm, _ = committed
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, args)))
    with django_db_blocker.unblock():
        starts = at_once(firm, [lambda: release_batch_start(user=pm)] * 4)
        assert not [s for s in starts if isinstance(s, Exception)], starts
        assert sorted(s.started for s in starts) == [False, False, False, True]
        assert len({s.batch.pk for s in starts}) == 1
        assert sent == [(dispatch.RELEASE_BATCH, (starts[0].batch.pk,))]


def test_a_worker_process_releases_them_in_the_firms_schema(committed, celery_worker_process, django_db_blocker):
    firm, pm, proposals = committed
    with django_db_blocker.unblock():
        with tenant_context(firm), transaction.atomic():
            batch = release_batch_start(user=pm, comment="by the worker").batch

        def finished():
            with tenant_context(firm):
                found = ReleaseBatch.objects.get(pk=batch.pk)
            return None if found.under_way else found

        done = wait_for(finished, timeout=90, worker=celery_worker_process)
        assert (done.status, done.done, done.released, done.refused) == ("completed", 3, 3, 0), done.error
        with tenant_context(firm):
            assert set(Proposal.objects.filter(pk__in=[p.pk for p in proposals])
                       .values_list("status", flat=True)) == {Proposal.Status.EXECUTED}
            assert AuditEvent.objects.filter(action="proposal.release", comment="by the worker").count() == 3
