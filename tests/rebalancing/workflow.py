"""Proposals in a known state, for the workflow tests."""

from decimal import Decimal

from rebalancing.models import ApprovalPolicy, Proposal, RebalanceRun

from .book import AS_OF


def make_proposal(account, *, status=Proposal.Status.DRAFT, estimated_tax="0", turnover=0.02, trade_count=3,
                  restricted_traded=False, requires_compliance=False, as_of=AS_OF) -> Proposal:
    run = RebalanceRun.objects.create(scope={"account_ids": [account.pk]}, as_of=as_of, total=1)
    return Proposal.objects.create(
        run=run, account=account, status=status, parameters={}, inputs_fingerprint="f" * 64,
        result={"trades": []}, estimated_tax=Decimal(estimated_tax), turnover=turnover, trade_count=trade_count,
        restricted_traded=restricted_traded, requires_compliance=requires_compliance,
    )


def policy(**changes) -> ApprovalPolicy:
    current = ApprovalPolicy.current()
    for key, value in changes.items():
        setattr(current, key, value)
    current.save()
    return current
