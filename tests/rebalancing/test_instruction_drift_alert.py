"""A one-off instruction leaves the account's drift and its drift alert as they were.

Found in the demo (2026-12-06 browser audit): ACM-000007 showed "Drift (latest proposal) 8.6%" and a
"Drift beyond band" alert; "Sell VNQ, buy VOO" made a proposal reading "13.0% -> 0.0%" (the drift was
measured against the targets the instruction moved), the account page then read 13.0% and the alert
was gone (the instruction's solve decided the drift alert, and its trades carry the "instruction"
reason). The drift is the model's (``engine.drift``), and an instruction decides no drift alert.
"""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Alert, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.revisions import InstructionAdded as I
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db


def test_an_instruction_keeps_the_accounts_drift_and_its_drift_alert(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@drift.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        policy(auto_approve=False)
        account = make_book(1)["accounts"][0]  # VTI 77%, BND 21% on a 60/30/10 model
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        first = Proposal.objects.get(run=run)
        alert = Alert.objects.get(account=account, kind=Alert.Kind.DRIFT, resolved_at__isnull=True)
        assert alert.run_id == run.pk and first.drift_before > 0.1

        # When the portfolio manager has it sell its VTI and buy ITOT instead
        new = account_instruct(account=account, instructions=[I("sell", "VTI", buy="ITOT")], by=pm, as_of=AS_OF)

        # Then the proposal finds the drift the run's found on the same holdings (measured against the
        # model, not against VTI's target handed to ITOT) ...
        assert new.drift_before == pytest.approx(first.drift_before, abs=1e-9)
        # ... and the drift alert is the run's, not decided again: still open, the same words; it leads
        # to the proposal that now stands for the account (the run's was superseded by the instruction's:
        # services.alerts.drift_alerts_follow_superseded), not to the superseded one
        kept = Alert.objects.get(account=account, kind=Alert.Kind.DRIFT, resolved_at__isnull=True)
        assert (kept.pk, kept.message, kept.created_at) == (alert.pk, alert.message, alert.created_at)
        assert Proposal.objects.get(pk=first.pk).status == Proposal.Status.SUPERSEDED
        assert kept.run_id == new.run_id
        assert Alert.objects.filter(account=account, kind=Alert.Kind.DRIFT).count() == 1
