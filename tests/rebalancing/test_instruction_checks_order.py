"""An instruction is read before what stands in its way: a malformed one is refused as such (400,
naming the problem) even while an approved proposal waits for release (409 only for a valid one)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.revisions import InstructionAdded as I
from tenants.errors import Conflict, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import make_proposal

pytestmark = pytest.mark.django_db


def test_a_malformed_instruction_is_refused_before_the_waiting_approval_is_named(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@order.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        make_proposal(account, status=Proposal.Status.APPROVED)
        # An unknown symbol is the problem to name, not the approved proposal
        with pytest.raises(ValidationFailed, match="NOPE"):
            account_instruct(account=account, instructions=[I("sell", "NOPE", buy="VTI")], by=pm, as_of=AS_OF)
        # A valid instruction meets the approved proposal waiting for release
        with pytest.raises(Conflict) as waiting:
            account_instruct(account=account, instructions=[I("sell", "VTI", buy="ITOT")], by=pm, as_of=AS_OF)
        assert waiting.value.code == "approved_waiting"
