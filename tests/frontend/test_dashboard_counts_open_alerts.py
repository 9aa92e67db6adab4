"""The dashboard counts the open alerts the accounts page's "Needs attention" lists: a withdrawal's
or an instruction's run decides no drift or harvest alert, so the alert of the run before it stays
open - listed on the accounts page and counted on the dashboard alike."""

import re
from decimal import Decimal

import pytest

from frontend.selectors import dashboard_counts
from rebalancing.models import Alert, RebalanceRun, RunOutcome
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.revisions import InstructionAdded
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def _listed(client, attention: str) -> set[str]:
    response = client.get(f"/accounts/?attention={attention}")
    assert response.status_code == 200
    return set(re.findall(r"F-\d{3}", response.content.decode()))


def _latest_run_kind(account) -> str:
    return RunOutcome.objects.filter(account=account).order_by("-run_id").first().run.kind


def test_alerts_left_open_by_a_withdrawal_or_an_instruction_are_counted_where_they_are_listed(book, people, as_user):
    # Given the advisor's two accounts beyond their bands, their drift alerts raised by the book's run
    withdrawn, instructed = book["mine"]
    drifted = {a.custodian_number for a in book["mine"]
               if Alert.objects.filter(account=a, kind=Alert.Kind.DRIFT, resolved_at__isnull=True).exists()}
    assert drifted == {withdrawn.custodian_number, instructed.custodian_number}
    # When one household's latest run is a withdrawal's and the other account's an instruction's
    cash_flow_enter(user=people["pm"], household=withdrawn.household, kind="withdrawal", amount=Decimal("500"),
                    as_of=AS_OF)
    account_instruct(account=instructed, instructions=[InstructionAdded("sell", "VNQ", buy="VTI")], by=people["pm"],
                     as_of=AS_OF)
    assert _latest_run_kind(withdrawn) == RebalanceRun.Kind.CASH_FLOW
    assert _latest_run_kind(instructed) == RebalanceRun.Kind.INSTRUCTION
    # Then both drift alerts stay open, listed on the accounts page and counted on the dashboard alike
    advisor = as_user("advisor")
    counts = dashboard_counts(people["advisor"])
    assert drifted <= _listed(advisor, "drift")
    assert counts.drift == len(_listed(advisor, "drift")) == 2
    assert counts.harvest == len(_listed(advisor, "harvest"))
    named = {entry["account"].custodian_number for entry in counts.attention}
    assert named == _listed(advisor, "any")
