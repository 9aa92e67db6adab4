"""What the pages do: filters, pagination, empty states, edits through the services, decisions,
bulk approval, runs and their live progress, the audit log."""

import html
import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, Proposal, ProposalApproval, RebalanceRun
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole
from tests.rebalancing.book import make_account

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_dashboard_counts_what_needs_attention(book, as_user):
    page = text(as_user("advisor").get("/"))
    assert "Drift beyond band" in page and "Waiting for your approval" in page
    assert 'href="/accounts/?attention=drift"' in page
    for account in book["mine"]:
        assert account.custodian_number in page
    for account in book["theirs"]:
        assert account.custodian_number not in page


def test_a_firm_admin_who_decides_nothing_follows_pending_proposals_instead_of_a_refused_approvals_link(
        book, as_user, firm_a):
    admin = as_user("admin")
    page = text(admin.get("/"))
    assert "Waiting for your approval" not in page and 'href="/approvals/"' not in page
    assert 'href="/proposals/?status=pending"' in page and "Waiting for approval" in page
    assert admin.get("/approvals/").status_code == 403
    with tenant_context(firm_a):
        pending = list(Proposal.objects.filter(status=Proposal.Status.PENDING).values_list("pk", flat=True))
    assert pending
    listed = text(admin.get("/proposals/?status=pending"))
    assert "Proposals waiting for approval" in listed and f"Waiting for approval ({len(pending)})" in listed
    assert all(f'href="/proposals/{pk}/"' in listed for pk in pending)
    assert "Their advisors and compliance decide them" in listed and "Release the selected" not in listed
    # an approver is sent to the Approvals page from the same list
    assert 'Decide them on <a href="/approvals/">' in text(as_user("advisor").get("/proposals/?status=pending"))


def test_a_user_without_a_role_is_told_so(firm_a, firm_user, client_for):
    nobody = firm_user(firm_a, "nobody@pages.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        nobody.groups.clear()
    page = text(client_for(firm_a, nobody).get("/"))
    assert "You have no role in Firm A Wealth yet" in page


def test_an_empty_book_explains_itself(firm_a, people, as_user):
    page = text(as_user("admin").get("/accounts/"))
    assert "There are no accounts in your book yet" in page
    assert "No run yet" in text(as_user("admin").get("/runs/"))
    assert "Nothing is waiting for you" in text(as_user("advisor").get("/approvals/"))


def test_the_account_list_filters_and_searches(book, as_user, people):
    client = as_user("admin")
    first, last = book["accounts"][0], book["accounts"][-1]
    assert last.custodian_number not in text(client.get("/accounts/", {"q": first.custodian_number}))
    by_advisor = text(client.get("/accounts/", {"advisor": people["colleague"].pk}))
    assert all(a.custodian_number in by_advisor for a in book["theirs"])
    assert all(a.custodian_number not in by_advisor for a in book["mine"])
    assert "No account matches these filters" in text(client.get("/accounts/", {"min_loss": "1000000"}))
    assert first.custodian_number in text(client.get("/accounts/", {"min_loss": "100", "attention": "drift"}))
    assert "No account matches" in text(client.get("/accounts/", {"min_cash": "50"}))
    assert first.custodian_number in text(client.get("/accounts/", {"min_drift": "1", "sort": "drift"}))


def test_an_account_of_a_household_managed_as_one_is_listed_with_the_households_model(book, as_user, firm_a):
    from tests.rebalancing.household_book import make_unit_household

    with tenant_context(firm_a):
        lees = make_unit_household()
    client = as_user("admin")
    row = re.search(r"LEE-IRA</a>.*?</tr>", text(client.get("/accounts/", {"q": "LEE-IRA"})), re.S).group(0)
    assert f"{lees['model'].name} <span class=\"muted\">(household)</span>" in row and "no model" not in row
    by_model = text(client.get("/accounts/", {"model": lees["model"].pk}))
    assert all(n in by_model for n in ("LEE-JT", "LEE-IRA", "LEE-ROTH"))
    assert book["accounts"][0].custodian_number not in by_model


def test_the_account_list_filters_by_every_kind_of_alert_with_its_name(book, as_user, firm_a):
    from rebalancing.models import Alert

    first, second = book["accounts"][0], book["accounts"][1]
    with tenant_context(firm_a):
        Alert.objects.create(account=second, kind=Alert.Kind.MAX_NAMES, amount=Decimal(160),
                             message="sleeve us_large_cap holds 160 names, above its maximum of 150")
    client = as_user("admin")
    page = text(client.get("/accounts/"))
    for value, label in Alert.Kind.choices:
        assert f'<option value="{value}" >{label}</option>' in page
    named = text(client.get("/accounts/", {"attention": "max_names"}))
    assert second.custodian_number in named and first.custodian_number not in named
    assert '<option value="max_names" selected>More names than the sleeve allows</option>' in named
    refused = client.get("/accounts/", {"attention": "bogus"})
    assert refused.status_code == 400
    assert "Needs attention must be one of drift, harvest, tax_limit, rmd_due, max_names" in text(refused)
    assert "not “bogus”" in text(refused)


def test_long_lists_are_paginated(book, as_user, firm_a):
    with tenant_context(firm_a):
        for i in range(30):
            make_account(f"P-{i:03d}", model=book["model"])
    client = as_user("admin")
    first = text(client.get("/accounts/"))
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = text(client.get("/accounts/", {"page": 2}))
    assert "Page 2 of 2" in second and "P-029" in second


def test_the_account_page_shows_holdings_lots_and_where_each_parameter_comes_from(book, as_user):
    page = text(as_user("advisor").get(f"/accounts/{book['mine'][0].pk}/"))
    assert "Holdings against targets, by sleeve" in page and "US equity" in page
    assert "Tax lots" in page and "Long-term" in page and "Short-term" in page
    assert "template standard" in page and "engine default" in page
    assert 'data-chart="chart-holdings"' in page


@pytest.mark.parametrize("overrides, shown", [
    # one leaf of a structured parameter (as the demo's direct-indexed accounts carry): its own words
    ({"direct_index": {"us_equity": {"max_names": 150}}}, ("direct_index.us_equity.max_names", "150")),
    ({"direct_index": {"us_equity": {"min_position_weight": 0.005}}},
     ("direct_index.us_equity.min_position_weight", "0.5%")),
    ({"wash_sale": {"equivalent_groups": [["VTI", "ITOT"]]}}, ("wash_sale.equivalent_groups", "VTI ≡ ITOT")),
])
def test_a_structured_parameters_value_or_one_leaf_of_it_is_shown_in_words(book, as_user, firm_a, overrides, shown):
    with tenant_context(firm_a):
        account = type(book["mine"][0]).objects.get(pk=book["mine"][0].pk)
        account.overrides = overrides
        account.save(update_fields=["overrides"])
    answer = as_user("advisor").get(f"/accounts/{account.pk}/")
    assert answer.status_code == 200
    path, words = shown
    assert re.search(rf"<code>{re.escape(path)}</code></td><td>{re.escape(words)}</td>", text(answer))


def test_an_advisor_saves_an_override_within_the_templates_limits(book, as_user, firm_a):
    account = book["mine"][0]
    client = as_user("advisor")
    form = {"p__cash__target": "3", "p__harvest__enabled": "yes", "p__harvest__min_loss_value": "500",
            "p__harvest__min_loss_pct": "5", "p__harvest__substitutes": "", "p__trading__lot_selection": "tax_optimal"}
    response = client.post(f"/accounts/{account.pk}/", form)
    assert response.status_code == 302
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides == {"cash": {"target": 0.03}, "harvest": {"enabled": True}}
        assert AuditEvent.objects.filter(action="account.parameters", object_id=str(account.pk)).exists()

    refused = client.post(f"/accounts/{account.pk}/", {**form, "p__cash__target": "9"})
    assert refused.status_code == 400
    assert "must be at most 5%" in refused.content.decode()
    unreadable = client.post(f"/accounts/{account.pk}/", {**form, "p__cash__target": "lots"})
    assert unreadable.status_code == 400 and "is not a number" in unreadable.content.decode()


def test_a_direct_index_the_engine_cannot_build_is_refused_on_the_page_as_typed(book, as_user, firm_a):
    with tenant_context(firm_a):
        template = book["template"]
        template.overridable = {**template.overridable, "direct_index": {}}
        template.save()
    account = book["mine"][0]
    refused = as_user("advisor").post(f"/accounts/{account.pk}/", {
        "p__direct_index__present": "1", "p__direct_index__sleeve": ["us_equity", ""],
        "p__direct_index__max_names": ["40", ""], "p__direct_index__min_weight": ["0.5", ""]})
    page = refused.content.decode()
    assert refused.status_code == 400
    # refused where it is saved (services.setting_conflicts), before any run could fail on it
    assert ("Account overrides refused: the setting “Direct indexing” names sleeve us_equity, which model Balanced has without a "
            "benchmark: every run of the account would fail") in html.unescape(page)
    assert re.search(r'name="p__direct_index__max_names"[^>]*value="40"', page)
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides == {}


def test_the_what_if_preview_compares_without_saving(book, as_user, firm_a):
    account = book["mine"][0]
    response = as_user("advisor").post(f"/accounts/{account.pk}/preview/", {"p__cash__target": "5"},
                                       HTTP_HX_REQUEST="true")
    page = text(response)
    assert "With your changes" in page and "Estimated tax" in page
    assert 'Account overrides after saving: <span title="cash.target">Cash: target</span> = 5%' in page
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides == {}
    refused = text(as_user("advisor").post(f"/accounts/{account.pk}/preview/", {"p__cash__target": "20"}))
    assert "would be refused" in refused


def test_an_advisor_reads_and_approves_a_proposal(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0])
    client = as_user("advisor")
    page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert "Trades and why" in page and "Lots sold" in page and "Estimated tax" in page and "Approve" in page
    response = client.post(f"/proposals/{proposal.pk}/decide/", {"action": "approve", "comment": "fine"}, follow=True)
    assert f"Proposal #{proposal.pk} approved" in text(response)
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.APPROVED


def test_a_rejection_needs_a_reason(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0])
    response = as_user("advisor").post(f"/proposals/{proposal.pk}/decide/", {"action": "reject"}, follow=True)
    assert "Say why the proposal is rejected" in text(response)
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


def test_bulk_approval_approves_within_policy_and_says_why_not_for_the_rest(book, as_user, firm_a):
    with tenant_context(firm_a):
        small, large = (Proposal.objects.get(account=a) for a in book["mine"][:2])
        Proposal.objects.filter(pk=large.pk).update(estimated_tax=Decimal("5000"))
        from tests.rebalancing.workflow import policy

        policy(compliance_min_estimated_tax=Decimal("2000"))
    client = as_user("advisor")
    queue = text(client.get("/approvals/"))
    assert f'value="{small.pk}"' in queue and f'value="{large.pk}"' not in queue  # only within policy is selectable
    response = client.post("/approvals/bulk/", {"proposal": [small.pk, large.pk]}, follow=True)
    page = text(response)
    assert "1 of 2 approved" in page and "above the policy&#x27;s review thresholds" in page
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=small.pk).status == Proposal.Status.APPROVED
        assert Proposal.objects.get(pk=large.pk).status == Proposal.Status.PENDING
        assert ProposalApproval.objects.filter(proposal=small, capacity="advisor").exists()


def test_a_template_change_is_previewed_on_its_accounts_then_saved(book, as_user, firm_a):
    client = as_user("admin")
    template = book["template"]
    form = {"p__screen__enabled": "yes", "p__screen__excluded_tags": ["fossil_fuels"],
            "p__screen__excluded_tags__present": "1", "p__screen__rescale": "pro_rata",
            "ov__p__cash__target": "yes", "ov_max__p__cash__target": "5"}  # 5%
    preview = text(client.post(f"/templates/{template.pk}/preview/", form))
    assert "4 of 4 sampled accounts would trade differently" in preview
    for account in book["accounts"]:
        assert account.custodian_number in preview
    response = client.post(f"/templates/{template.pk}/", {**form, "name": "Standard, no fossil fuels"})
    assert response.status_code == 302
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.parameters == {"screen": {"enabled": True, "excluded_tags": ["fossil_fuels"]}}
        assert template.overridable == {"cash.target": {"max": 0.05}}
        assert AuditEvent.objects.filter(action="template.change", object_id=str(template.pk)).exists()


@pytest.mark.parametrize(("form", "problem"), [
    # harvesting switched off: its leaves were not checked at all before
    ({"p__harvest__enabled": "no", "p__harvest__min_loss_value": "1e300"}, "must be at most $1 quadrillion"),
    ({"p__transition__enabled": "yes", "p__transition__max_net_gain_per_year": "1e300"},
     "must be at most $1 quadrillion"),
    ({"ov__p__harvest__min_loss_value": "yes", "ov_max__p__harvest__min_loss_value": "1e300"},
     "Minimum loss per position, maximum: at most $1 quadrillion"),
])
def test_a_dollar_setting_or_limit_beyond_the_engines_cap_is_named_and_the_template_unchanged(book, as_user, firm_a,
                                                                                               form, problem):
    template = book["template"]
    with tenant_context(firm_a):
        template.refresh_from_db()
        before = (template.parameters, template.overridable)
    response = as_user("admin").post(f"/templates/{template.pk}/", {**form, "name": template.name})
    assert response.status_code == 400 and problem in text(response)
    assert "000,000,000,000,000" not in text(response)
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert (template.parameters, template.overridable) == before
        assert not AuditEvent.objects.filter(action="template.change").exists()


def test_removing_an_asset_class_from_a_model_is_previewed_then_saved_as_a_new_version(book, as_user, firm_a):
    client = as_user("admin")
    model = book["model"]
    form = {"rows": "3",
            "s0-asset_class": "us_equity", "s0-weight": "66.6", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "33.3", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100",
            "s2-remove": "1", "note": "no real estate"}
    # The preview checks the change as saving would: weights that do not sum to 100% are named.
    assert "sum to 99.9%, not 100%" in text(client.post(f"/models/{model.pk}/preview/", form))
    refused = client.post(f"/models/{model.pk}/", form)
    assert refused.status_code == 400 and "sum to 99.9%, not 100%" in refused.content.decode()
    form.update({"s0-weight": "66.66", "s1-weight": "33.34"})
    preview = text(client.post(f"/models/{model.pk}/preview/", form))
    assert "sampled accounts would trade differently" in preview
    with tenant_context(firm_a):
        assert ModelPortfolio.objects.get(pk=model.pk).current_version.number == 1  # the preview stored nothing
    assert client.post(f"/models/{model.pk}/", form).status_code == 302
    with tenant_context(firm_a):
        version = ModelPortfolio.objects.get(pk=model.pk).current_version
        assert version.number == 2 and sorted(version.sleeves.values_list("asset_class", flat=True)) == ["bonds", "us_equity"]


def test_a_new_model_is_created_with_its_first_version(book, as_user, firm_a):
    form = {"rows": "1", "code": "all-bonds", "name": "All bonds", "s0-asset_class": "bonds", "s0-weight": "100",
            "s0-kind": "holdings", "s0-holdings": "BND 50, AGG 50"}
    assert as_user("admin").post("/models/new/", form).status_code == 302
    with tenant_context(firm_a):
        assert ModelPortfolio.objects.get(code="all-bonds").current_version.number == 1
    bad = as_user("admin").post("/models/new/", {**form, "code": "all-bonds-2", "s0-holdings": "NOPE 100"})
    assert bad.status_code == 400 and "unknown symbol" in bad.content.decode()
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="all-bonds-2").exists()


def test_a_run_is_started_and_its_progress_fragment_polls_until_it_finishes(book, as_user, firm_a):
    client = as_user("pm")
    response = client.post("/runs/", {"scope": "model", "model": book["model"].code})
    assert response.status_code == 302
    run_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    with tenant_context(firm_a):
        run = RebalanceRun.objects.get(pk=run_id)
        assert run.total == 4 and run.scope == {"model_code": book["model"].code}
    fragment = text(client.get(f"/runs/{run_id}/", HTTP_HX_REQUEST="true"))
    assert 'hx-trigger="every 2s"' in fragment and "Waiting for a worker" in fragment
    finished = text(client.get(f"/runs/{book['run'].pk}/", HTTP_HX_REQUEST="true"))
    assert "hx-trigger" not in finished and "Proposals made" in finished


def test_the_audit_log_filters_by_action(book, as_user):
    client = as_user("admin")
    page = text(client.get("/audit/", {"action": "household"}))
    assert ">household.advisor</code>" in page and ">proposal.submit</code>" not in page  # rows, not the filter's options
    assert "Gave a household to an advisor" in page
    assert "No record matches" in text(client.get("/audit/", {"actor": "nobody-at-all"}))


def test_a_proposal_says_which_wash_sale_keeps_money_uninvested_and_until_when(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        proposal.result = {**proposal.result, "blocked_buys": [{
            "symbol": "VTI", "shortfall": 4200.0, "sale_symbol": "ITOT", "sale_date": "2026-11-02",
            "sale_account_id": "F-001", "sale_loss": 850.0, "sale_in_proposal": False, "buyable_on": "2026-12-03"}]}
        proposal.save(update_fields=["result"])

    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))

    assert "Money left uninvested" in page
    assert ("<strong>VTI</strong> is $4,200.00 below its target: ITOT was sold at a $850.00 loss on 2026-11-02 in "
            "account F-001; buyable again on <strong>2026-12-03</strong>") in page


@pytest.mark.parametrize("held, waits", [(4200.0, "nothing waits"), (3000.0, "$1,200.00 waits")])
def test_what_a_substitute_holds_in_a_blocked_names_place_is_not_called_uninvested(book, as_user, firm_a, held, waits):
    # Found in the browser (2026-12-07): "VOO is $34,789.51 below its target ... so the cash waits"
    # while the proposal held SCHX, its substitute, in VOO's place and left $44 in cash.
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        proposal.result = {**proposal.result, "blocked_buys": [{
            "symbol": "VTI", "shortfall": 4200.0, "sale_symbol": "VTI", "sale_date": "2026-11-02",
            "sale_account_id": "F-001", "sale_loss": 850.0, "sale_in_proposal": False, "buyable_on": "2026-12-03",
            "held_in_place": held, "held_by": ["ITOT"]}]}
        proposal.save(update_fields=["result"])

    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))

    assert f"<strong>VTI</strong> is $4,200.00 below its target (ITOT holds ${held:,.2f} of it in its place; {waits})" in page
    assert ("Money left uninvested" in page) == (waits != "nothing waits")
    assert ("Wash-sale blocks: held by substitutes" in page) == (waits == "nothing waits")


def test_a_block_by_a_sale_of_the_runs_own_day_is_not_told_as_done(book, as_user, firm_a):
    # A sale dated the run's day is usually another account's open proposal or order (planned trades
    # are the run's day's): it may still be rejected, so the page does not say it was sold.
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).select_related("run").get()
        day = proposal.run.as_of.isoformat()
        proposal.result = {**proposal.result, "blocked_buys": [{
            "symbol": "VOO", "shortfall": 4200.0, "sale_symbol": "VOO", "sale_date": day,
            "sale_account_id": "F-002", "sale_loss": 2468.26, "sale_in_proposal": False, "buyable_on": "2027-01-01"}]}
        proposal.save(update_fields=["result"])

    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))

    assert (f"VOO is sold at a $2,468.26 loss in account F-002 by an open proposal or order of the run's day ({day}), "
            "or was filled that day") in page
    assert "VOO was sold" not in page
