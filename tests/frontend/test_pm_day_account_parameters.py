"""The account's parameters form, as an advisor uses it on a day with proposals open: saving says
which open proposals gave way (and warns before), each refusal is said once, in words, naming the
setting and the symbol, and a setting's template limit is one rule with one message."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def account(book, firm_a):
    """The advisor's first account, under a template that lets restrictions and harvesting be
    changed, harvesting's minimum loss per position at least $100."""
    account = book["mine"][0]
    with tenant_context(firm_a):
        template = book["template"]
        template.overridable = {**template.overridable, "restrictions": {},
                                "harvest.min_loss_value": {"min": 100}}
        template.save()
    return account


def _open_proposal(firm_a, account) -> Proposal:
    with tenant_context(firm_a):
        return Proposal.objects.get(account=account, status=Proposal.Status.PENDING)


def test_saving_parameters_says_the_open_proposals_that_gave_way_and_warns_before(account, as_user, firm_a):
    # given: the run's proposal for the account waits for approval
    proposal = _open_proposal(firm_a, account)
    client = as_user("advisor")

    # then, before saving: the page says the open proposal gives way, linked
    before = text(client.get(f"/accounts/{account.pk}/"))
    warning = re.search(r'data-testid="parameters-supersede"[^>]*>(.*?)</p>', before)
    assert warning, "no warning before saving that open proposals give way"
    assert f'href="/proposals/{proposal.pk}/"' in warning.group(1) and "superseded" in warning.group(1)

    # when: the advisor saves "do not sell BND"
    page = text(client.post(f"/accounts/{account.pk}/", {"p__restrictions__do_not_sell": "BND"}, follow=True))

    # then: it was saved, and the message says the proposal gave way (it said only "Parameters saved")
    assert "Parameters saved" in page
    assert "1 open proposal made under the settings before was superseded: the next run proposes again." in page
    with tenant_context(firm_a):
        proposal.refresh_from_db()
        assert proposal.status == Proposal.Status.SUPERSEDED


def test_no_warning_when_no_proposal_is_open(account, as_user, firm_a):
    with tenant_context(firm_a):
        Proposal.objects.filter(account=account).update(status=Proposal.Status.REJECTED)

    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    assert 'data-testid="parameters-supersede"' not in page


def test_a_symbol_typed_twice_in_different_capitals_is_read_once(account, as_user, firm_a):
    page = text(as_user("advisor").post(f"/accounts/{account.pk}/", {"p__restrictions__do_not_sell": "BND, bnd"},
                                        follow=True))

    assert "non-unique" not in page and "[&#x27;BND&#x27;" not in page
    assert "Parameters saved" in page
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides["restrictions"]["do_not_sell"] == ["BND"]


def test_an_unknown_symbol_is_refused_once_in_words(account, as_user, firm_a):
    refused = as_user("advisor").post(f"/accounts/{account.pk}/", {"p__restrictions__do_not_buy": "NOPE"})

    page = text(refused)
    assert refused.status_code == 400
    # once, naming the setting by its label and the symbol; never the internal key, never the label twice
    assert page.count("names NOPE") == 1
    assert "(restrictions.do_not_buy)" not in page  # (the table of every setting lists the codes)
    assert "(“Restrictions: do not buy”)" not in page
    assert "“Restrictions: do not buy” names NOPE" in page
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert "restrictions" not in account.overrides


@pytest.mark.parametrize("typed", ["-5", "50"])
def test_a_value_below_the_templates_minimum_gets_the_hints_words(account, as_user, firm_a, typed):
    refused = as_user("advisor").post(f"/accounts/{account.pk}/", {"p__harvest__min_loss_value": typed})

    page = text(refused)
    assert refused.status_code == 400
    assert "Allowed: at least $100" in page  # the hint
    error = re.search(r'id="err_p__harvest__min_loss_value"[^>]*>(.*?)</div>', page)
    assert error and error.group(1).strip() == "must be at least $100", error and error.group(1)
    assert "at least $0" not in page and "below the template" not in page
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert "min_loss_value" not in (account.overrides.get("harvest") or {})


def test_the_inherited_value_sent_back_unchanged_is_not_refused(account, as_user, firm_a):
    """A limit the template's own value does not meet is not held against the form sent back as it was."""
    with tenant_context(firm_a):
        template = account.household.template
        template.parameters = {**template.parameters, "harvest": {"min_loss_value": 50}}
        template.save()

    page = text(as_user("advisor").post(f"/accounts/{account.pk}/", {"p__harvest__min_loss_value": "50"},
                                        follow=True))

    assert "Parameters saved" in page
