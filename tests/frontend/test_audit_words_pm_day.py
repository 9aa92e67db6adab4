"""Words of a portfolio manager's and an advisor's day (browser audit on the Acme demo, 2026-12-06):
an empty realised report scoped to a Roth IRA says why, a household approval says it is recorded and
who still decides, a refused cash-flow file says each problem once, instruction refusals speak alike,
the what-if names settings by their labels, and a run names its model and how it started."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Account, ModelPortfolio, Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from tests.frontend.test_household_pages import _url, lees  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_a_realised_report_of_a_roth_ira_says_its_sales_are_not_taxed(book, as_user, firm_a):
    # Given a Roth IRA (the report lists the sales of taxable accounts: Form 8949's)
    roth = book["mine"][0]
    with tenant_context(firm_a):
        Account.objects.filter(pk=roth.pk).update(tax_status=Account.TaxStatus.ROTH)
    # When the realised report is scoped to it
    page = text(as_user("admin").get(f"/reports/realised/?account={roth.custodian_number}&year=2026"))
    # Then it says why nothing is listed, not that nothing was sold
    assert f"{roth.custodian_number} is a Roth IRA: its sales are not taxed and are not reported on Form 8949." in page
    assert "No lot was sold in these accounts" not in page


def test_approving_a_household_says_it_is_recorded_and_who_still_decides(lees, as_user, firm_a):  # noqa: F811
    # Given a household proposal of three accounts: one approved already, two waiting for compliance too
    together = lees["proposal"]
    with tenant_context(firm_a):
        legs = list(Proposal.objects.filter(household_proposal=together).order_by("pk"))
        Proposal.objects.filter(pk=legs[0].pk).update(status=Proposal.Status.APPROVED)
        Proposal.objects.filter(pk__in=[p.pk for p in legs[1:]]).update(requires_compliance=True)
        waiting = ", ".join(f"{p.account.custodian_number} #{p.pk}" for p in legs[1:])
    # When the advisor approves all accounts' proposals
    page = text(as_user("advisor").post(_url(lees["household"], f"proposals/{together.pk}/decide/"),
                                        {"decision": "approve"}, follow=True))
    # Then the headline is the approval recorded, then how many accounts still wait, for whom
    assert (f"Your approval of household proposal #{together.pk} is recorded. 2 of 3 accounts still wait for "
            f"compliance's approval: {waiting}. 1 of 3 is approved.") in page
    assert "1 approved, 2 pending approval" not in page


def test_a_refused_cash_flow_file_says_each_problem_once_in_words(lees, as_user):  # noqa: F811
    upload = SimpleUploadedFile("flows.csv", b"household_id,kind,amount,account_number,reference\n"
                                b"HH-LEE,deposit,500,LEE-ROTH,D-1\nHH-LEE,deposit,-5,LEE-ROTH,D-2\n",
                                content_type="text/csv")
    page = text(as_user("advisor").post(_url(lees["household"], "cash-flows/upload/"), {"file": upload}, follow=True))
    message = re.search(r"The cash-flow file was refused[^<]*", page).group(0)
    assert message.count("row 3, amount:") == 1, message
    assert message.startswith("The cash-flow file was refused: row 3, amount: ") and "Nothing was imported." in message
    assert "cash_flows" not in message


def test_an_rmd_from_a_roth_ira_says_it_is_a_roth_ira(lees, as_user):  # noqa: F811
    upload = SimpleUploadedFile("flows.csv", b"household_id,kind,amount,account_number,reference\n"
                                b"HH-LEE,rmd,100,LEE-ROTH,R-1\n", content_type="text/csv")
    page = text(as_user("advisor").post(_url(lees["household"], "cash-flows/upload/"), {"file": upload}, follow=True))
    assert "A required minimum distribution comes from a traditional IRA; LEE-ROTH is a Roth IRA." in page


def test_the_what_if_names_a_refused_setting_by_its_label(book, as_user):
    account = book["mine"][0]
    refused = text(as_user("advisor").post(f"/accounts/{account.pk}/preview/", {"p__cash__target": "50"}))
    assert "“Cash: target” = 50% is above the template's maximum 5%" in refused, refused[-2000:]
    assert "cash.target =" not in refused


def test_a_run_names_its_model_and_a_command_run_says_what_started_it(book, as_user, firm_a):
    from rebalancing.services.runs import run_start

    with tenant_context(firm_a):
        model = ModelPortfolio.objects.get(pk=book["mine"][0].model_id)
        ModelPortfolio.objects.filter(pk=model.pk).update(name="Conservative 30/70")
        by_model = run_start(scope=RunScope(model_code=model.code), label="demo start")
        assert by_model.kind == RebalanceRun.Kind.MANUAL and by_model.started_by_id is None
    detail = text(as_user("pm").get(f"/runs/{by_model.pk}/"))
    assert f"Model Conservative 30/70 ({model.code})" in detail
    assert "by the demo's setup" in detail and "by demo start" not in detail
    listed = text(as_user("pm").get("/runs/"))
    row = listed.split(f">Run {by_model.pk}</a>")[1].split("</tr>")[0]
    assert "The demo's setup" in row and "Started by a command" in row and "Started by a person" not in row
