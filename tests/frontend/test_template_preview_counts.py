"""The template page says how many accounts the template governs; its preview solves only those with
a model (a run rebalances no other): the preview says how many it left out, so the two counts agree."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account

pytestmark = pytest.mark.django_db

FORM = {"p__screen__enabled": "yes", "p__screen__excluded_tags": ["fossil_fuels"],
        "p__screen__excluded_tags__present": "1", "p__screen__rescale": "pro_rata"}


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_the_preview_says_the_governed_accounts_it_left_out_for_having_no_model(book, as_user, firm_a):
    template = book["template"]
    with tenant_context(firm_a):
        Account.objects.filter(pk=book["accounts"][0].pk).update(model=None)
    client = as_user("admin")
    page = text(client.get(f"/templates/{template.pk}/"))
    governed = int(re.search(r"governs (\d+) account", page).group(1))

    preview = text(client.post(f"/templates/{template.pk}/preview/", FORM))

    assert f"governs {governed} accounts you can see; 1 of them has no model" in preview
    assert f"of {governed - 1} sampled accounts would trade differently" in preview


def test_a_template_whose_accounts_have_no_model_says_so(book, as_user, firm_a):
    template = book["template"]
    with tenant_context(firm_a):
        Account.objects.filter(pk__in=[a.pk for a in book["accounts"]]).update(model=None)
    preview = text(as_user("admin").post(f"/templates/{template.pk}/preview/", FORM))

    assert "No account you can see follows this template" not in preview
    assert "you can see this template governs have no model, so no run rebalances them" in preview
