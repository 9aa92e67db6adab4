"""A client's own settings (an account's or household's overrides: do not sell, hold, cash, harvesting)
saved after a proposal was made supersede it, on every path that saves them (the account page and the
API through the services, the admin site), as a template's or model's change already does: it was
solved under settings the account no longer has. A preview, which saves and rolls back, supersedes
nothing; saving the same overrides again supersedes nothing."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Household, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.book import household_overrides_set
from rebalancing.services.previews import account_overrides_preview, account_overrides_save
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError
from tenants.roles import FirmRole

from . import test_admin
from .book import AS_OF, make_book
from .workflow import policy

admin_client_a = test_admin.admin_client_a  # a firm admin signed in to the admin site of firm A

pytestmark = pytest.mark.django_db
S = Proposal.Status
DO_NOT_SELL_VTI = {"restrictions": {"do_not_sell": ["VTI"]}}


@pytest.fixture
def people(firm_a, firm_user):
    return {"advisor": firm_user(firm_a, "adv@ovr.example", FirmRole.ADVISOR),
            "pm": firm_user(firm_a, "pm@ovr.example", FirmRole.PORTFOLIO_MANAGER)}


@pytest.fixture
def book(firm_a, people):
    """Two accounts of the advisor's, each with a run's proposal pending approval that sells VTI."""
    with tenant_context(firm_a):
        made = make_book(2, advisor=people["advisor"])
        made["template"].overridable = {**made["template"].overridable, "restrictions": {}}
        made["template"].save()
        policy(auto_approve=False, max_price_age_days=3650)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        made["proposals"] = list(Proposal.objects.filter(run=run).order_by("account__custodian_number"))
        assert [p.status for p in made["proposals"]] == [S.PENDING, S.PENDING]
        assert all("VTI" in _sold(p) for p in made["proposals"])
        return made


def _sold(proposal: Proposal) -> set[str]:
    return {t["symbol"] for t in proposal.result["trades"] if t["side"] == "sell"}


def _statuses(book) -> list[str]:
    return [Proposal.objects.get(pk=p.pk).status for p in book["proposals"]]


def test_an_account_restriction_added_after_the_run_does_not_let_its_sale_be_approved(firm_a, book, people):
    with tenant_context(firm_a):
        account, proposal = book["accounts"][0], book["proposals"][0]

        # Given the client's new restriction, saved on the account after the run: do not sell VTI
        account_overrides_save(account=account, overrides=DO_NOT_SELL_VTI, user=people["advisor"], as_of=AS_OF)

        # When the old proposal (selling VTI) is approved and released, then that is refused
        proposal.refresh_from_db()
        with pytest.raises(DomainError):
            proposal_approve(proposal=proposal, user=people["advisor"], today=AS_OF)
            proposal_release(proposal=proposal, user=people["pm"], today=AS_OF)
        # ...for it gave way when the settings changed, saying why; the other account's stays open
        assert _statuses(book) == [S.SUPERSEDED, S.PENDING]
        event = AuditEvent.objects.get(action="proposal.supersede", object_id=str(proposal.pk))
        assert "account T-000's settings changed" in event.comment


def test_an_approved_proposal_not_yet_released_gives_way_too(firm_a, book, people):
    with tenant_context(firm_a):
        proposal = book["proposals"][0]
        assert proposal_approve(proposal=proposal, user=people["advisor"], today=AS_OF).status == S.APPROVED

        account_overrides_save(account=book["accounts"][0], overrides=DO_NOT_SELL_VTI, user=people["advisor"],
                               as_of=AS_OF)

        assert _statuses(book) == [S.SUPERSEDED, S.PENDING]
        with pytest.raises(DomainError):
            proposal_release(proposal=proposal, user=people["pm"], today=AS_OF)


def test_a_household_restriction_supersedes_every_account_of_the_household(firm_a, book, people):
    with tenant_context(firm_a):
        # Given the second account moved into the first one's household
        first, second = book["accounts"]
        second.household = first.household
        second.save(update_fields=["household"])
        household = Household.objects.get(pk=first.household_id)

        # When the household's overrides change, then both accounts' proposals give way
        household_overrides_set(household=household, overrides=DO_NOT_SELL_VTI, user=people["advisor"])
        assert _statuses(book) == [S.SUPERSEDED, S.SUPERSEDED]
        why = AuditEvent.objects.filter(action="proposal.supersede").values_list("comment", flat=True)
        assert all(f"household {household.name}'s settings changed" in w for w in why) and len(why) == 2


def test_the_same_overrides_saved_again_and_a_preview_supersede_nothing(firm_a, book, people):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        household = Household.objects.get(pk=account.household_id)

        # A preview saves the overrides in a savepoint it rolls back: the proposal stays open
        preview = account_overrides_preview(account=account, overrides=DO_NOT_SELL_VTI, user=people["advisor"],
                                            as_of=AS_OF)
        assert "VTI" not in {t["symbol"] for t in preview.candidate.trades if t["side"] == "sell"}
        # Saving what is stored already, on the account and on its household, changes nothing
        account_overrides_save(account=account, overrides={}, user=people["advisor"], as_of=AS_OF)
        household_overrides_set(household=household, overrides={}, user=people["advisor"])

        assert _statuses(book) == [S.PENDING, S.PENDING]
        assert not AuditEvent.objects.filter(action="proposal.supersede").exists()


def _account_form(account, **changes) -> dict:
    data = {
        "custodian_number": account.custodian_number, "name": account.name, "household": account.household_id,
        "model": account.model_id, "template": account.template_id or "", "overrides": "{}",
        "tax_status": account.tax_status, "short_term_rate": str(account.short_term_rate),
        "long_term_rate": str(account.long_term_rate), "cash": str(account.cash),
        "realised_short_term_ytd": "0", "realised_long_term_ytd": "0", "lots-TOTAL_FORMS": "0",
        "lots-INITIAL_FORMS": "0",
        **({"discretionary": "on"} if account.discretionary else {}),  # a ticked box, as the page posts it
    }
    return {**data, **changes}


def test_overrides_changed_in_the_admin_supersede_too(firm_a, book, admin_client_a):
    with tenant_context(firm_a):
        first, second = book["accounts"]

    # A change of anything but the settings (the account's name) supersedes nothing...
    page = admin_client_a.post(f"/admin/rebalancing/account/{first.pk}/change/",
                               _account_form(first, name="Renamed"))
    assert page.status_code == 302, page.content.decode()[:2000]
    with tenant_context(firm_a):
        assert _statuses(book) == [S.PENDING, S.PENDING]

    # ...while the account's overrides changed there do
    page = admin_client_a.post(f"/admin/rebalancing/account/{first.pk}/change/",
                               _account_form(first, name="Renamed", overrides='{"cash": {"target": 0.04}}'))
    assert page.status_code == 302, page.content.decode()[:2000]
    with tenant_context(firm_a):
        assert _statuses(book) == [S.SUPERSEDED, S.PENDING]
        event = AuditEvent.objects.get(action="proposal.supersede", object_id=str(book["proposals"][0].pk))
        assert "account T-000's overrides changed" in event.comment

    # ...and so do the household's
    with tenant_context(firm_a):
        household = Household.objects.get(pk=second.household_id)
    page = admin_client_a.post(f"/admin/rebalancing/household/{household.pk}/change/", {
        "name": household.name, "external_id": household.external_id, "template": book["template"].pk,
        "overrides": '{"cash": {"target": 0.04}}', "managed_as": "accounts", "model": "", "household_overrides": "{}",
    })
    assert page.status_code == 302, page.content.decode()[:2000]
    with tenant_context(firm_a):
        assert _statuses(book) == [S.SUPERSEDED, S.SUPERSEDED]


def test_a_template_changed_in_the_admin_supersedes_the_proposals_of_the_accounts_it_governs(firm_a, book,
                                                                                          admin_client_a):
    with tenant_context(firm_a):
        template = book["template"]

    page = admin_client_a.post(f"/admin/rebalancing/parametertemplate/{template.pk}/change/", {
        "code": template.code, "name": template.name, "description": "",
        "parameters": '{"cash": {"target": 0.02}, "trading": {"whole_shares": true}}',
        "overridable": '{"cash.target": {"min": 0, "max": 0.05}, "harvest": {}, "restrictions": {}}'})

    assert page.status_code == 302, page.content.decode()[:2000]
    with tenant_context(firm_a):
        assert _statuses(book) == [S.SUPERSEDED, S.SUPERSEDED]
        why = set(AuditEvent.objects.filter(action="proposal.supersede").values_list("comment", flat=True))
        assert why == {f"the account's template “{template.name}” changed its settings"}
