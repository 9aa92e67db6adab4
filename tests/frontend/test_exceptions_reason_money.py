"""Compliance's exceptions page says money one way, "$39,976.09", as the rest of the product: the
approval policy's reasons (``services.proposals.policy_decide``) said "estimated tax 39,976.09 ≥
25,000.00" beside "estimated tax $39,976.09". New reasons are written in dollars; audit rows and
alerts written before are read in dollars, the rows themselves kept as written."""

import html
import random
import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Alert, ApprovalPolicy, Proposal
from rebalancing.services.exceptions import _in_dollars
from rebalancing.services.proposals import policy_decide, proposal_submit
from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record
from tenants.roles import FirmRole
from tests.rebalancing.book import make_book
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db

# An amount of money with no "$" before it (what the page no longer shows).
BARE = re.compile(r"(?<![\w$.,])\d{1,3}(?:,\d{3})*\.\d{2}(?![\d%])")


def _rows(response) -> list[str]:
    assert response.status_code == 200
    return [html.unescape(re.sub(r"<[^>]+>|\s+", " ", row))
            for row in re.findall(r'<tr data-kind="\w+">(.*?)</tr>', response.content.decode(), re.S)]


def _plain_dollars(amount: Decimal) -> str:
    """The product's money words, written out plainly: sign, "$", thousands, cents."""
    cents = int((abs(amount) * 100).to_integral_value())
    whole, part = divmod(cents, 100)
    return ("-" if amount < 0 and cents else "") + "$" + f"{whole:,}" + f".{part:02d}"


@pytest.fixture
def firm(firm_a, firm_user):
    compliance = firm_user(firm_a, "compliance@reason-money.example", FirmRole.COMPLIANCE)
    with tenant_context(firm_a):
        accounts = make_book(2)["accounts"]
        policy(auto_approve=False, compliance_min_estimated_tax=Decimal("25000"), compliance_min_turnover=0.5)
        yield {"compliance": compliance, "accounts": accounts}


def test_a_proposal_sent_to_compliance_says_its_tax_and_limit_in_dollars(firm, firm_a, client_for):
    # Given a proposal the policy sends to compliance for its estimated tax
    proposal = make_proposal(firm["accounts"][0], estimated_tax="39976.09", turnover=0.12)
    proposal_submit(proposal=proposal)
    assert AuditEvent.objects.get(action="proposal.submit", object_id=str(proposal.pk)).comment == \
        "estimated tax $39,976.09 ≥ $25,000.00"

    # When compliance reads its exceptions
    [row] = _rows(client_for(firm_a, firm["compliance"]).get("/exceptions/", {"kind": "compliance"}))

    # Then every amount has its "$"
    assert "Sent to compliance: estimated tax $39,976.09 ≥ $25,000.00; estimated tax $39,976.09" in row
    assert not BARE.findall(row), row


def test_audit_rows_and_alerts_written_before_read_in_dollars_and_stay_as_written(firm, firm_a, client_for):
    # Given a reason recorded before, without "$", and a tax-limit alert of then
    old = make_proposal(firm["accounts"][1], status=Proposal.Status.PENDING, estimated_tax="30000", turnover=0.6,
                        requires_compliance=True)
    written = "estimated tax 30,000.00 ≥ 25,000.00; turnover 60.0% ≥ 50.0%"
    audit_record(actor=None, action="proposal.submit", obj=old, before={"status": "draft"},
                 after={"status": "pending_approval"}, comment=written)
    Alert.objects.create(account=firm["accounts"][1], run=old.run, kind=Alert.Kind.TAX_LIMIT, amount=Decimal("4100"),
                         message="estimated tax 4,100.00 is above the limit of 2,000.00; -12.50 left of $1,000.00")

    rows = _rows(client_for(firm_a, firm["compliance"]).get("/exceptions/"))

    [sent] = [r for r in rows if f"Proposal #{old.pk}" in r]
    assert "estimated tax $30,000.00 ≥ $25,000.00; turnover 60.0% ≥ 50.0%" in sent
    [limit] = [r for r in rows if "above the limit" in r]
    assert "estimated tax $4,100.00 is above the limit of $2,000.00; -$12.50 left of $1,000.00" in limit
    assert not any(BARE.findall(r) for r in rows) and not any("$$" in r for r in rows)
    assert AuditEvent.objects.get(action="proposal.submit", object_id=str(old.pk)).comment == written


def test_the_policys_tax_reason_matches_a_plain_reading_over_random_amounts(firm):
    rng = random.Random(39976)
    current = ApprovalPolicy.current()
    for case in range(200):
        tax = Decimal(rng.randint(-10**9, 10**9)) / 100
        limit = Decimal(rng.randint(0, 10**8)) / 100
        current.compliance_min_estimated_tax = limit
        proposal = Proposal(estimated_tax=tax, turnover=0.0, trade_count=1, restricted_traded=False)

        reasons = policy_decide(current, proposal, discretionary=True).reasons

        expected = [f"estimated tax {_plain_dollars(tax)} ≥ {_plain_dollars(limit)}"] if tax >= limit else []
        assert list(reasons) == expected, case
        # A reason recorded before, without "$", reads as the one written now.
        legacy = f"estimated tax {tax:,.2f} ≥ {limit:,.2f}; turnover 12.5% ≥ 10.0%"
        assert _in_dollars(legacy) == (f"estimated tax {_plain_dollars(tax)} ≥ {_plain_dollars(limit)}; "
                                       "turnover 12.5% ≥ 10.0%"), (case, legacy)
