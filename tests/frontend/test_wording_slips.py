"""Words that said the wrong thing: an RMD's message named it a withdrawal; one refused account was
"1 accounts have"; a new model's hint pointed at a rescale box only a new version has."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from frontend.views.households import _planned_words
from rebalancing.models import CashFlow, Proposal
from rebalancing.services.cash_flows import CashFlowEntered, GaveWay


@pytest.mark.parametrize(("kind", "named"), [(CashFlow.Kind.RMD, "RMD"), (CashFlow.Kind.WITHDRAWAL, "withdrawal")])
def test_the_proposals_that_gave_way_name_what_they_gave_way_to(kind, named):
    flow = CashFlow(kind=kind, amount=Decimal("3000"), tax_cost=Decimal("12.50"))
    entered = CashFlowEntered(flow, created=True, gave_way=(GaveWay("LEE-IRA", 7, "approved"),),
                              statuses=frozenset({Proposal.Status.PENDING}), sales=2)

    text = _planned_words(entered)

    assert f"1 open proposal of the household, made on the book before the {named}, gave way to it: LEE-IRA #7" in text


@pytest.mark.django_db
def test_a_new_models_hint_names_no_box_it_lacks(firm_a, as_user):
    page = as_user("admin").get("/models/new/").content.decode()
    assert 'id="m-rescale"' not in page and "Rescale the rest" not in page


@pytest.mark.django_db
def test_a_new_version_still_offers_the_rescale_box_the_hint_names(firm_a, book, as_user):
    from rebalancing.models import ModelPortfolio

    with tenant_context(firm_a):
        model = ModelPortfolio.objects.order_by("pk").first()
    page = as_user("admin").get(f"/models/{model.pk}/").content.decode()
    assert 'id="m-rescale"' in page and "“Rescale the rest pro rata” ticked below" in page
