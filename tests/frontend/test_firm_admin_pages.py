"""The firm admin's pages: assigning templates and models in bulk, importing CSV files, people and
roles, the approval policy and API keys. Each is checked through the page (Django's test client)
and against what it wrote (rows and audit events)."""

import html
import re
from html.parser import HTMLParser

import pytest
from django_tenants.utils import tenant_context

from frontend.parameter_forms import FIELDS
from rebalancing.effective_parameters import override_limits
from rebalancing.models import Account, ApprovalPolicy, Household, ParameterTemplate
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _other_template(firm):
    with tenant_context(firm):
        return ParameterTemplate.objects.create(code="esg", name="ESG: no fossil fuels",
                                                parameters={"cash": {"target": 0.02}}, overridable={})


def test_a_firm_admin_assigns_a_template_to_every_account_a_filter_selects(firm_a, book, as_user, people):
    esg = _other_template(firm_a)
    client = as_user("admin")
    selection = {"advisor": people["colleague"].pk}
    page = text(client.get("/accounts/assign/", selection))
    assert "2 accounts in 2 households match the accounts page's filters" in page
    # The accounts carry no overrides yet, so the ESG template (which allows none) may govern them.
    response = client.post("/accounts/assign/", {**selection, "apply_to": "accounts", "set_template": esg.pk})
    assert response.status_code == 302 and response["Location"] == f"/accounts/?advisor={people['colleague'].pk}"
    with tenant_context(firm_a):
        theirs = {a.pk for a in book["theirs"]}
        for account in Account.objects.all():
            assert (account.template_id == esg.pk) == (account.pk in theirs)
        events = AuditEvent.objects.filter(action="account.assign")
        assert sorted(int(e.object_id) for e in events) == sorted(theirs)
        assert {e.after["template"] for e in events} == {"esg"}
        assert {e.before["template"] for e in events} == {None}  # they followed their household's
    assert "Assigned to 2 accounts" in text(client.get(response["Location"]))


def test_an_assignment_refused_by_the_templates_limits_writes_nothing_and_names_the_accounts(firm_a, book, as_user):
    esg = _other_template(firm_a)
    with tenant_context(firm_a):
        first = Account.objects.get(pk=book["accounts"][0].pk)
        first.overrides = {"cash": {"target": 0.03}}
        first.save()
    response = as_user("admin").post("/accounts/assign/", {"apply_to": "accounts", "set_template": esg.pk})
    page = text(response)
    assert response.status_code == 400
    assert "Nothing assigned: 1 account has overrides the template “ESG: no fossil fuels” does not allow" in page
    assert first.custodian_number in page
    with tenant_context(firm_a):
        assert not Account.objects.filter(template=esg).exists()
        assert not AuditEvent.objects.filter(action="account.assign").exists()


def test_a_template_goes_to_the_households_of_the_selection(firm_a, book, as_user):
    esg = _other_template(firm_a)
    mine = book["mine"][0]
    response = as_user("admin").post("/accounts/assign/", {"q": mine.custodian_number, "apply_to": "households",
                                                           "set_template": esg.pk})
    assert response.status_code == 302
    with tenant_context(firm_a):
        assert list(Household.objects.filter(template=esg)) == [mine.household]
        assert AuditEvent.objects.get(action="household.template").after == {"household": mine.household.name,
                                                                              "template": "esg"}


def test_a_model_is_assigned_and_cleared_without_touching_the_template(firm_a, book, as_user):
    first = book["accounts"][0]
    client = as_user("admin")
    assert client.post("/accounts/assign/", {"q": first.custodian_number, "set_model": "none"}).status_code == 302
    with tenant_context(firm_a):
        account = Account.objects.get(pk=first.pk)
        assert account.model_id is None and account.template_id is None
        assert account.governing_template == book["template"]  # still its household's
    again = client.post("/accounts/assign/", {"q": first.custodian_number, "set_model": book["model"].pk})
    assert again.status_code == 302
    with tenant_context(firm_a):
        assert Account.objects.get(pk=first.pk).model_id == book["model"].pk


def test_only_firm_admins_assign_and_nothing_chosen_is_refused(firm_a, book, as_user):
    for role in ("advisor", "pm", "compliance"):
        assert as_user(role).get("/accounts/assign/").status_code == 403
    assert "Assign a template or model" not in text(as_user("pm").get("/accounts/"))
    assert "Assign a template or model to all 4 accounts" in text(as_user("admin").get("/accounts/"))
    page = as_user("admin").post("/accounts/assign/", {"apply_to": "accounts"})
    assert page.status_code == 400 and "Choose a template or a model to assign." in text(page)
    assert as_user("admin").post("/accounts/assign/", {"set_template": "99999"}).status_code == 400


# --- Import ---------------------------------------------------------------------------------------

def test_a_firm_admin_imports_a_csv_file_in_the_firm_pages(firm_a, people, as_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import Security

    client = as_user("admin")
    page = text(client.get("/import/"))
    assert 'href="/import/"' in page and "<code>symbol</code>, <code>name</code>, <code>asset_class</code>" in page
    csv = b"symbol,name,asset_class\nAAA,Triple A Corp,us_equity\nBBB,Double B Inc,us_equity\n"
    response = client.post("/import/", {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv, "text/csv")})
    assert response.status_code == 200 and "Imported s.csv" in text(response)
    with tenant_context(firm_a):
        assert set(Security.objects.values_list("symbol", flat=True)) == {"AAA", "BBB"}
        assert AuditEvent.objects.get(action="import.securities").actor == people["admin"].username


def test_a_bad_csv_file_is_refused_whole_with_its_line_and_column(firm_a, people, as_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import Security

    csv = b"symbol,name,asset_class,esg_score\nAAA,Triple A,us_equity,50\nBBB,Double B,us_equity,lots\n"
    response = as_user("pm").post("/import/", {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv)})
    page = text(response)
    assert response.status_code == 400 and "The file was refused; nothing was written" in page
    assert '<td class="num">3</td><td><code>esg_score</code></td>' in page
    missing = as_user("admin").post("/import/", {"kind": "securities"})
    assert missing.status_code == 400 and "Choose a CSV file to import." in text(missing)
    with tenant_context(firm_a):
        assert not Security.objects.exists()


def test_advisors_and_compliance_do_not_import(people, as_user):
    for role in ("advisor", "compliance"):
        assert as_user(role).get("/import/").status_code == 403
        assert 'href="/import/"' not in text(as_user(role).get("/"))


def test_an_advisor_is_given_the_households_of_a_selection(firm_a, book, as_user, people):
    mine = book["mine"][0]
    response = as_user("admin").post("/accounts/assign/", {"q": mine.custodian_number, "apply_to": "households",
                                                           "set_advisor": people["colleague"].pk})
    assert response.status_code == 302
    with tenant_context(firm_a):
        from rebalancing.access import accounts_visible_to

        household = Household.objects.get(pk=mine.household_id)
        assert household.advisors == [people["colleague"]]
        assert accounts_visible_to(people["colleague"]).filter(pk=mine.pk).exists()  # the object permission moved
        assert not accounts_visible_to(people["advisor"]).filter(pk=mine.pk).exists()
        assert AuditEvent.objects.filter(action="household.advisor", object_id=str(household.pk)).count() == 2


# --- People and roles ------------------------------------------------------------------------------

def test_a_firm_admin_invites_someone_who_chooses_a_password_and_signs_in(firm_a, people, as_user, client_for,
                                                                         mailoutbox, django_capture_on_commit_callbacks):
    client = as_user("admin")
    with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/people/", {"action": "invite", "email": "Dana@Pages.example", "first_name": "Dana",
                                            "last_name": "Doe", "role": ["advisor", "compliance"]})
    assert response.status_code == 302
    assert "Invited dana@pages.example" in text(client.get("/people/"))
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["dana@pages.example"]
    link = re.search(r"http://\S+/accounts/set-password/\S+/", mailoutbox[0].body).group(0)
    path = link.split("localhost", 1)[1]
    with tenant_context(firm_a):
        from django.contrib.auth import get_user_model

        dana = get_user_model().objects.get(username="dana@pages.example")
        assert sorted(dana.groups.values_list("name", flat=True)) == ["advisor", "compliance"]
        assert not dana.has_usable_password()
        assert AuditEvent.objects.get(action="user.invite").after["roles"] == ["advisor", "compliance"]
    stranger = client_for(firm_a)
    form = stranger.get(path, follow=True)
    assert "Choose your password" in text(form)
    done = stranger.post(form.redirect_chain[-1][0], {"new_password1": "pale-ochre-kestrel-9",
                                                      "new_password2": "pale-ochre-kestrel-9"})
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert "has been used already" in text(client_for(firm_a).get(path, follow=True))  # once only
    signed_in = client_for(firm_a).post("/accounts/login/", {"username": "dana@pages.example",
                                                             "password": "pale-ochre-kestrel-9"})
    assert signed_in.status_code == 302


def test_an_invitation_without_a_role_or_for_a_taken_address_is_refused(firm_a, people, as_user, mailoutbox):
    client = as_user("admin")
    page = client.post("/people/", {"action": "invite", "email": "eve@pages.example"})
    assert page.status_code == 400 and "Give the new user at least one role." in text(page)
    taken = client.post("/people/", {"action": "invite", "email": "advisor@pages.example", "role": "advisor"})
    assert taken.status_code == 400 and "already has an account here" in text(taken)
    bad = client.post("/people/", {"action": "invite", "email": "not-an-address", "role": "advisor"})
    assert bad.status_code == 400 and "is not an e-mail address" in text(bad)
    # A valid address longer than the column that keeps it: named, not a server error.
    long = client.post("/people/", {"action": "invite", "email": "a" * 240 + "@pages.example", "role": "advisor"})
    assert long.status_code == 400 and "The user was not saved: username: Ensure this value has at most 150" in text(long)
    assert mailoutbox == []
    from django.contrib.auth import get_user_model

    with tenant_context(firm_a):
        assert not get_user_model().objects.filter(username__startswith="a" * 240).exists()


def test_a_key_name_longer_than_its_column_is_named_and_no_key_is_issued(firm_a, people, as_user):
    from tenants.api_keys.models import ApiKey

    response = as_user("admin").post("/api-keys/", {"action": "create", "name": "K" * 101, "scope": ["read"]})
    assert response.status_code == 400
    assert "The key was not saved: name: Ensure this value has at most 100 characters" in text(response)
    with tenant_context(firm_a):
        assert not ApiKey.objects.filter(name__startswith="KKK").exists()


def test_roles_change_and_a_deactivated_user_cannot_sign_in(firm_a, people, as_user, client_for):
    client = as_user("admin")
    pm = people["pm"]
    assert client.post("/people/", {"action": "roles", "user": pm.pk, "role": ["portfolio_manager", "compliance"]}
                       ).status_code == 302
    with tenant_context(firm_a):
        assert set(pm.groups.values_list("name", flat=True)) == {"portfolio_manager", "compliance"}
        assert AuditEvent.objects.get(action="user.role.grant").after["roles"] == ["compliance", "portfolio_manager"]
    assert client.post("/people/", {"action": "deactivate", "user": pm.pk}).status_code == 302
    assert client_for(firm_a).post("/accounts/login/", {"username": pm.username, "password": "correct-horse-battery"}
                                   ).status_code == 200  # the form again: refused
    assert client.post("/people/", {"action": "reactivate", "user": pm.pk}).status_code == 302
    with tenant_context(firm_a):
        assert [e.action for e in AuditEvent.objects.filter(action__startswith="user.").order_by("at", "id")][-2:] == [
            "user.deactivate", "user.reactivate"]


def test_the_last_admin_keeps_their_role_and_only_admins_manage_people(firm_a, people, as_user):
    from django.contrib.auth import get_user_model

    with tenant_context(firm_a):  # the firm's first admin (made at onboarding) leaves
        get_user_model().objects.filter(groups__name="firm_admin").exclude(pk=people["admin"].pk).update(is_active=False)
    client = as_user("admin")
    page = client.post("/people/", {"action": "roles", "user": people["admin"].pk, "role": ["advisor"]})
    assert page.status_code == 400 and "last active admin" in text(page)
    assert client.post("/people/", {"action": "deactivate", "user": people["admin"].pk}).status_code == 400
    for role in ("pm", "advisor", "compliance"):
        assert as_user(role).get("/people/").status_code == 403
    for role in ("pm", "advisor"):
        assert as_user(role).get("/policy/").status_code == 403


def test_compliance_reads_the_policy_it_enforces_and_may_not_change_it(firm_a, people, as_user):
    client = as_user("compliance")
    assert 'href="/policy/"' in client.get("/").content.decode() and 'href="/people/"' not in client.get("/").content.decode()
    page = text(client.get("/policy/"))
    assert "You read the policy that decides which proposals need your approval; a firm admin changes it." in page
    assert '<fieldset class="plain" disabled>' in page and "Save the policy" not in page
    assert 'name="compliance_min_estimated_tax"' in page
    with tenant_context(firm_a):
        before = ApprovalPolicy.current().compliance_min_turnover
    assert client.post("/policy/", {"compliance_min_turnover": "99"}).status_code == 403
    with tenant_context(firm_a):
        assert ApprovalPolicy.current().compliance_min_turnover == before
    admin = text(as_user("admin").get("/policy/"))
    assert "Save the policy" in admin and "disabled" not in admin.split("Approved automatically")[0][-200:]


# --- The approval policy ---------------------------------------------------------------------------

def test_the_policy_is_edited_in_percent_and_dollars(firm_a, people, as_user):
    from rebalancing.models import ApprovalPolicy

    client = as_user("admin")
    page = text(client.get("/policy/"))
    assert 'name="auto_max_turnover" value="5"' in page and 'value="1,000"' in page and "now $1,000" in page
    response = client.post("/policy/", {
        "auto_approve": "on", "auto_max_estimated_tax": "$2,500", "auto_max_turnover": "7.5", "auto_max_trades": "30",
        "compliance_min_estimated_tax": "50,000", "compliance_min_turnover": "25", "max_price_age_days": "2"})
    assert response.status_code == 302
    with tenant_context(firm_a):
        policy = ApprovalPolicy.current()
        assert (policy.auto_max_estimated_tax, policy.auto_max_turnover, policy.compliance_on_restricted) == (
            2500, 0.075, False)
        event = AuditEvent.objects.get(action="policy.change")
        assert event.before["auto_max_turnover"] == 0.05 and event.after["auto_max_turnover"] == 0.075
    assert 'name="auto_max_turnover" value="7.5"' in text(client.get("/policy/"))


def test_a_policy_amount_too_large_for_its_column_is_named_and_nothing_changes(firm_a, people, as_user):
    from rebalancing.models import ApprovalPolicy

    with tenant_context(firm_a):
        before = ApprovalPolicy.current().compliance_min_estimated_tax
    response = as_user("admin").post("/policy/", {
        "auto_approve": "on", "auto_max_estimated_tax": "1,000", "auto_max_turnover": "5", "auto_max_trades": "20",
        "compliance_min_estimated_tax": "1e20", "compliance_min_turnover": "25", "max_price_age_days": "3"})
    assert response.status_code == 400
    assert "The policy was not saved: compliance_min_estimated_tax: Ensure that there are no more than" in text(response)
    with tenant_context(firm_a):
        assert ApprovalPolicy.current().compliance_min_estimated_tax == before
        assert not AuditEvent.objects.filter(action="policy.change").exists()


def test_a_policy_that_contradicts_itself_is_refused_naming_the_limits(firm_a, people, as_user):
    from rebalancing.models import ApprovalPolicy

    response = as_user("admin").post("/policy/", {
        "auto_max_estimated_tax": "30000", "auto_max_turnover": "5", "auto_max_trades": "20",
        "compliance_min_estimated_tax": "25000", "compliance_min_turnover": "25", "max_price_age_days": "3"})
    page = text(response)
    assert response.status_code == 400
    assert "the automatic approval's tax limit is above the tax at which compliance must approve" in page
    assert 'value="30000"' in page  # what was typed, to correct it
    typo = as_user("admin").post("/policy/", {"auto_max_turnover": "five"})
    assert typo.status_code == 400 and "must be a number, not “five”" in text(typo)
    with tenant_context(firm_a):
        assert ApprovalPolicy.current().auto_max_estimated_tax == 1000
        assert not AuditEvent.objects.filter(action="policy.change").exists()


# --- API keys -------------------------------------------------------------------------------------

def test_a_key_is_created_with_scopes_shown_once_used_and_revoked(firm_a, people, as_user, client_for):
    client = as_user("admin")
    response = client.post("/api-keys/", {"action": "create", "name": "Nightly upload", "scope": ["read", "import"],
                                          "owner": people["admin"].pk}, follow=True)
    page = text(response)
    assert response.redirect_chain == [("/api-keys/", 302)] and "This is the only time the key is shown" in page
    token = re.search(r"rk_[0-9a-f]{8}_[A-Za-z0-9_-]+", page).group(0)
    assert token not in text(client.get("/api-keys/"))  # never again
    api = client_for(firm_a)
    assert api.get("/api/v1/accounts/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    with tenant_context(firm_a):
        from tenants.api_keys.models import ApiKey

        key = ApiKey.objects.get(name="Nightly upload")
        assert key.scopes == ["import", "read"]
    assert client.post("/api-keys/", {"action": "revoke", "key": key.pk}).status_code == 302
    assert api.get("/api/v1/accounts/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert "revoked" in text(client.get("/api-keys/"))
    # django-guardian's AnonymousUser row is nobody to issue a key to: not offered
    assert "AnonymousUser" not in text(client.get("/api-keys/"))


def test_a_key_beyond_the_owners_roles_is_refused_and_advisors_see_only_their_keys(firm_a, people, as_user):
    advisor = as_user("advisor")
    refused = advisor.post("/api-keys/", {"action": "create", "name": "Too much", "scope": ["read", "run"]})
    assert refused.status_code == 400 and "roles do not give the scope(s) run" in text(refused)
    assert advisor.post("/api-keys/", {"action": "create", "name": "Mine", "scope": ["read"]}).status_code == 302
    admin_key = as_user("admin").post("/api-keys/", {"action": "create", "name": "Admin's", "scope": ["read"]})
    assert admin_key.status_code == 302
    listing = text(advisor.get("/api-keys/"))
    assert "Mine" in listing and "Admin's" not in listing
    with tenant_context(firm_a):
        from tenants.api_keys.models import ApiKey

        theirs = ApiKey.objects.get(name="Admin's")
    assert advisor.post("/api-keys/", {"action": "revoke", "key": theirs.pk}).status_code == 404
    no_name = advisor.post("/api-keys/", {"action": "create", "name": "", "scope": ["read"]})
    assert no_name.status_code == 400 and "Give the key a name" in text(no_name)
    no_scope = advisor.post("/api-keys/", {"action": "create", "name": "Nothing ticked"})
    assert no_scope.status_code == 400 and "Choose at least one scope: read, " in text(no_scope)
    unknown = advisor.post("/api-keys/", {"action": "create", "name": "Odd", "scope": ["read", "fly"]})
    assert unknown.status_code == 400 and "unknown: fly." in text(unknown)


# --- The Django admin site for a firm admin who is not a superuser ------------------------------------

def test_a_firm_admin_who_is_not_a_superuser_works_in_the_admin_site(firm_a, firm_user, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import Security
    from tenants.roles import FirmRole

    admin = firm_user(firm_a, "plain-admin@pages.example", FirmRole.FIRM_ADMIN, is_staff=True)
    assert not admin.is_superuser
    client = client_for(firm_a, admin)
    index = text(client.get("/admin/"))
    for section in ("Securities", "Accounts", "Households", "Parameter templates", "Proposals"):
        assert section in index, section
    assert "Users" not in index and "Groups" not in index  # people are managed on the People page
    assert client.get("/admin/rebalancing/security/add/").status_code == 200
    assert client.get("/admin/rebalancing/proposal/add/").status_code == 403  # proposals come from runs
    csv = b"symbol,name,asset_class\nAAA,Triple A Corp,us_equity\n"
    done = client.post("/admin/rebalancing/security/import/",
                       {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv, "text/csv")}, follow=True)
    assert "Imported securities: 1 rows, 1 created" in text(done)
    with tenant_context(firm_a):
        assert Security.objects.filter(symbol="AAA").exists()


def test_only_firm_admins_are_staff_and_the_role_decides(firm_a, people, as_user, client_for):
    pm = people["pm"]
    assert not pm.is_staff and "Admin site" not in text(as_user("pm").get("/"))
    assert client_for(firm_a, pm).get("/admin/").status_code == 302  # to the admin's sign-in
    as_user("admin").post("/people/", {"action": "roles", "user": pm.pk, "role": ["portfolio_manager", "firm_admin"]})
    with tenant_context(firm_a):
        pm.refresh_from_db()
        assert pm.is_staff
    assert "Securities" in text(client_for(firm_a, pm).get("/admin/"))
    as_user("admin").post("/people/", {"action": "roles", "user": pm.pk, "role": ["portfolio_manager"]})
    with tenant_context(firm_a):
        pm.refresh_from_db()
        assert not pm.is_staff


# --- Parameters typed as people think of them (no JSON) ------------------------------------------

def _benchmarked(firm_a, book, *asset_classes) -> None:
    """The book's model tracks a benchmark in these sleeves, so its accounts may direct-index them
    (a template direct-indexing a sleeve without one is refused: services.setting_conflicts)."""
    from rebalancing.models import Benchmark, Sleeve

    with tenant_context(firm_a):
        benchmark = Benchmark.objects.get_or_create(code="TOTAL", defaults={"name": "Total market"})[0]
        Sleeve.objects.filter(version=book["model"].current_version, asset_class__in=asset_classes).update(
            benchmark=benchmark)


def test_a_template_takes_structured_wash_sale_groups_direct_index_instructions_and_limits(firm_a, book, as_user):
    template = book["template"]
    _benchmarked(firm_a, book, "us_equity")
    client = as_user("admin")
    page = text(client.get(f"/templates/{template.pk}/"))
    assert "JSON" not in page and "null" not in page
    assert 'name="ov_max__p__cash__target" value="5"' in page  # the book's 0.05 shown as 5 (%)
    assert "Net gain allowed per run ($)" in page and "Leave empty for no limit." in page
    form = {
        "p__wash_sale__equivalent_groups": "vti, itot\nbnd, AGG",
        "p__direct_index__present": "1", "p__direct_index__sleeve": ["us_equity", ""],
        "p__direct_index__max_names": ["40", ""], "p__direct_index__min_weight": ["0.5", ""],
        "p__instructions__present": "1", "p__instructions__kind": ["raise_cash", "sell_buy", ""],
        "p__instructions__sell": ["", "xle", ""], "p__instructions__buy": ["", "VTI", ""],
        "p__instructions__quantity": ["", "", ""], "p__instructions__amount": ["2,500", "", ""],
        "ov__p__cash__target": "yes", "ov_min__p__cash__target": "1", "ov_max__p__cash__target": "10",
        "ov__p__transition__max_net_gain_per_run": "yes", "ov_max__p__transition__max_net_gain_per_run": "$250,000",
        "ov__p__trading__lot_selection": "yes", "ov_choices__p__trading__lot_selection": ["tax_optimal", "fifo"],
    }
    assert client.post(f"/templates/{template.pk}/", form).status_code == 302
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.parameters["wash_sale"] == {"equivalent_groups": [["VTI", "ITOT"], ["BND", "AGG"]]}
        assert template.parameters["direct_index"] == {"us_equity": {"max_names": 40, "min_position_weight": 0.005}}
        assert template.parameters["instructions"] == [{"kind": "raise_cash", "amount": 2500.0},
                                                       {"kind": "sell_buy", "sell": "XLE", "buy": "VTI"}]
        assert template.overridable == {"cash.target": {"min": 0.01, "max": 0.1},
                                        "transition.max_net_gain_per_run": {"max": 250000.0},
                                        "trading.lot_selection": {"choices": ["tax_optimal", "fifo"]}}
    again = text(client.get(f"/templates/{template.pk}/"))
    assert "VTI, ITOT" in again and 'value="40"' in again and 'value="2500"' in again and 'value="250000"' in again


def test_structured_parameter_mistakes_are_named_and_nothing_is_saved(firm_a, book, as_user):
    template = book["template"]
    before = dict(template.parameters), dict(template.overridable)
    client = as_user("admin")
    for form, problem in (
        ({"p__wash_sale__equivalent_groups": "VTI"}, "a group needs at least two securities"),
        ({"p__wash_sale__equivalent_groups": "VTI, ITOT\nITOT, SCHB"}, "ITOT is in two groups"),
        ({"p__direct_index__present": "1", "p__direct_index__sleeve": [""], "p__direct_index__max_names": ["40"],
          "p__direct_index__min_weight": [""]}, "choose the sleeve"),
        ({"p__instructions__present": "1", "p__instructions__kind": ["raise_cash"], "p__instructions__sell": [""],
          "p__instructions__buy": [""], "p__instructions__quantity": [""], "p__instructions__amount": [""]},
         "give the amount of cash to raise"),
        ({"ov__p__cash__target": "yes", "ov_min__p__cash__target": "10", "ov_max__p__cash__target": "5"},
         "the minimum is above the maximum"),
        ({"ov__p__cash__target": "yes", "ov_max__p__cash__target": "ten"}, "“ten” is not a number"),
    ):
        response = client.post(f"/templates/{template.pk}/", form)
        assert response.status_code == 400 and problem in text(response), problem
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert (template.parameters, template.overridable) == before


def test_a_template_name_longer_than_its_column_is_named_not_a_server_error(firm_a, book, as_user):
    template = book["template"]
    with tenant_context(firm_a):
        name_before = ParameterTemplate.objects.get(pk=template.pk).name
    response = as_user("admin").post(f"/templates/{template.pk}/", {"name": "N" * 201})
    assert response.status_code == 400
    assert "The template was not saved: name: Ensure this value has at most 200 characters" in text(response)
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).name == name_before


def test_an_advisor_adds_a_one_off_instruction_to_an_account_within_the_template(firm_a, book, as_user):
    template = book["template"]
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, "instructions": {}}
        template.save()
    account = book["mine"][0]
    client = as_user("advisor")
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert "Cash · Target" in page or "Target (%)" in page
    assert "Allowed: at least 0% and at most 5%" in page
    response = client.post(f"/accounts/{account.pk}/", {
        "p__instructions__present": "1", "p__instructions__kind": ["sell_buy", ""], "p__instructions__sell": ["XLE", ""],
        "p__instructions__buy": ["VTI", ""], "p__instructions__quantity": ["20", ""], "p__instructions__amount": ["", ""],
        "p__cash__target": "4"})
    assert response.status_code == 302, text(response)[:3000]
    with tenant_context(firm_a):
        account = Account.objects.get(pk=account.pk)
        assert account.overrides == {"cash": {"target": 0.04},
                                     "instructions": [{"kind": "sell_buy", "sell": "XLE", "buy": "VTI", "quantity": 20.0}]}


def test_a_refused_account_form_shows_its_instruction_rows_as_typed(firm_a, book, as_user):
    template = book["template"]
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, "instructions": {}}
        template.save()
        before = Account.objects.get(pk=book["mine"][0].pk).overrides
    account = book["mine"][0]
    response = as_user("advisor").post(f"/accounts/{account.pk}/", {
        "p__instructions__present": "1", "p__instructions__kind": ["sell_buy", "raise_cash"],
        "p__instructions__sell": ["XLE", ""], "p__instructions__buy": ["VTI", ""],
        "p__instructions__quantity": ["20", ""], "p__instructions__amount": ["", ""]})
    page = response.content.decode()
    # the second row is refused; both come back as typed (before, the stored rows - none - came back)
    assert response.status_code == 400 and "give the amount of cash to raise" in text(response)
    assert re.search(r'name="p__instructions__quantity"[^>]*value="20"', page)
    assert re.search(r'<option value="raise_cash" selected', page)
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).overrides == before


# --- Runs: what happens to approved proposals is said on the form ----------------------------------

def test_the_run_form_says_approved_proposals_stay_unless_replaced(firm_a, book, as_user):
    from rebalancing.models import Proposal, RebalanceRun

    with tenant_context(firm_a):
        kept = Proposal.objects.filter(run=book["run"]).first()
        Proposal.objects.filter(pk=kept.pk).update(status=Proposal.Status.APPROVED)
    client = as_user("pm")
    page = text(client.get("/runs/"))
    assert "1 account has an approved proposal not yet released (or is in a household managed as one that has)." in page
    assert "The run leaves it out and the approved trades stay, unless you choose to replace them." in page
    client.post("/runs/", {"scope": "firm"})
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("created_at")
        assert run.total == len(book["accounts"]) - 1 and "replace_approved" not in run.scope
    client.post("/runs/", {"scope": "firm", "replace_approved": "yes"})
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("created_at")
        assert run.total == len(book["accounts"]) and run.scope == {"firm": True, "replace_approved": True}
    assert "whole firm; replacing approved proposals" in text(client.get("/runs/"))


# --- The approved queue: bulk release, released and executed views -------------------------------

def test_a_portfolio_manager_releases_approved_proposals_together(firm_a, book, as_user):
    from rebalancing.models import ApprovalPolicy, Order, Proposal

    with tenant_context(firm_a):
        ApprovalPolicy.objects.update(max_price_age_days=36500)  # the book is priced on a fixed past day
        first, second, third = Proposal.objects.filter(run=book["run"]).order_by("pk")[:3]
        Proposal.objects.filter(pk__in=[first.pk, second.pk]).update(status=Proposal.Status.APPROVED)
    client = as_user("pm")
    page = text(client.get("/proposals/"))
    assert "Approved, to release (2)" in page and f'value="{first.pk}"' in page and f'value="{third.pk}"' not in page
    response = client.post("/proposals/", {"proposal": [first.pk, second.pk, third.pk], "comment": "morning batch"},
                           follow=True)
    page = text(response)
    assert "2 of 3 released; the others are listed with the reason." in page
    assert f"#{third.pk}" in page and "cannot become released" in page
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(status=Proposal.Status.RELEASED).values_list("pk", flat=True)) == {
            first.pk, second.pk}
        assert Order.objects.filter(proposal__in=[first, second]).exists()
        assert AuditEvent.objects.filter(action="proposal.release", comment="morning batch").count() == 2
    released = text(client.get("/proposals/", {"status": "released"}))
    assert f"#{first.pk}" in released and f"#{second.pk}" in released and "Release the selected" not in released
    assert "No executed proposal." in text(client.get("/proposals/", {"status": "executed"}))


def test_only_those_who_release_may_release_and_advisors_see_only_theirs(firm_a, book, as_user):
    from rebalancing.models import Proposal

    with tenant_context(firm_a):
        Proposal.objects.filter(run=book["run"]).update(status=Proposal.Status.APPROVED)
        theirs = Proposal.objects.get(run=book["run"], account=book["theirs"][0])
    advisor = as_user("advisor")
    page = text(advisor.get("/proposals/"))
    assert "Release the selected" not in page and f"#{theirs.pk}<" not in page
    assert advisor.post("/proposals/", {"proposal": [theirs.pk]}).status_code == 403
    assert as_user("admin").post("/proposals/", {"proposal": [theirs.pk]}).status_code == 403


# --- The provider console: a run across every active firm -----------------------------------------

def test_an_operator_starts_a_run_in_every_active_firm_from_the_console(firm_a, firm_b, book,
                                                                       django_capture_on_commit_callbacks):
    from django.test import Client
    from django_tenants.utils import schema_context

    from rebalancing.models import RebalanceRun
    from tenants.roles import ProviderRole
    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with schema_context("public"):
        operator = user_ensure(username="op@all.test", email="op@all.test", roles=[ProviderRole.PROVIDER_OPERATOR],
                               password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(operator)
    assert "Every active firm (2)" in text(client.get("/runs/"))
    with django_capture_on_commit_callbacks():  # the runs' dispatch is not sent in this test
        response = client.post("/runs/start/", {"firm": "*"}, follow=True)
    page = text(response)
    assert "Runs started in 2 firms" in page and "Firm A Wealth (run" in page and "4 accounts" in page
    for firm, accounts in ((firm_a, len(book["accounts"])), (firm_b, 0)):
        with tenant_context(firm):
            run = RebalanceRun.objects.get(started_by_label="op@all.test (provider, all firms)")
            assert run.scope == {"firm": True} and run.total == accounts
            assert AuditEvent.objects.filter(action="run.start", object_id=str(run.pk)).exists()


# --- The audit log in words -------------------------------------------------------------------------

def test_the_audit_log_speaks_in_words_with_account_numbers_and_no_duplicate_filters(firm_a, book, as_user):
    from rebalancing.models import Proposal

    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"]).select_related("account").first()
    page = text(as_user("admin").get("/audit/", {"object_type": "proposal", "object_id": proposal.pk}))
    assert "Sent a proposal for approval" in page
    assert f"#{proposal.pk} · account {proposal.account.custodian_number}" in page
    filters = as_user("admin").get("/audit/").content.decode()
    assert filters.count('<option value="proposal"') == 1 and ">Proposal</option>" in filters
    assert filters.count('<option value="proposal.submit"') == 1 and ">Sent a proposal for approval</option>" in filters


# --- One panel for a proposal's alerts, amounts in dollars ----------------------------------------

def test_a_proposals_alerts_are_one_panel_with_dollar_amounts(firm_a, book, as_user):
    from rebalancing.models import Proposal

    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).first()
        result = dict(proposal.result)
        result["alerts"] = [
            {"code": "harvest_opportunity", "symbol": s, "amount": 1234.5 * (i + 1),
             "message": f"{s} has {1234.5 * (i + 1):,.2f} of harvestable losses, not harvested: harvesting is switched off"}
            for i, s in enumerate(("VTI", "BND", "VNQ"))
        ] + [{"code": "tax_limit_exceeded", "amount": 500.0, "symbol": None,
              "message": "the proposal realises 10,500.00 of net gains, above the per run limit of 10,000.00"}]
        result["warnings"] = ["the limit on net realised gain stopped the transition at 40% of the way (net gain 900.00 of 1,000.00 allowed)"]
        Proposal.objects.filter(pk=proposal.pk).update(result=result)
    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))
    assert page.count('data-testid="proposal-notes"') == 1 and 'class="callout"' not in page
    assert "<strong>Harvest opportunity</strong>: 3 securities with losses not harvested, $7,407 in all" in page
    assert "<td>Harvesting is switched off</td>" in page and "$3,704" in page
    assert "above the per run limit of $10,000.00" in page and "realises $10,500.00" in page
    assert "(net gain $900.00 of $1,000.00 allowed)" in page and "40% of the way" in page


def test_the_orders_page_and_transition_report_use_the_whole_width_and_keep_ids_whole(firm_a, book, as_user):
    from pathlib import Path

    for path in ("/ledger/orders/", "/reports/transition/"):
        assert '<main id="main" class="page wide"' in as_user("pm").get(path).content.decode(), path
    assert '<main id="main" class="page"' in as_user("pm").get("/accounts/").content.decode()
    css = (Path(__file__).resolve().parents[2] / "frontend/static/frontend/app.css").read_text()
    assert ".page.wide { max-width: none; }" in css and "table.data code { white-space: nowrap; }" in css


# --- Firm-wide substantially identical securities -------------------------------------------------

def test_a_firm_admin_sets_the_firm_wide_equivalence_groups(firm_a, book, as_user):
    from rebalancing.models import Security

    client = as_user("admin")
    response = client.post("/securities/equivalents/", {"groups": "vti, itot\nBND, AGG"})
    assert response.status_code == 302
    with tenant_context(firm_a):
        groups = dict(Security.objects.exclude(equivalence_group="").values_list("symbol", "equivalence_group"))
        # VTI and ITOT keep their shared label, AGG joins BND's (the first named); the labels no other security shares
        # (SCHB, VNQ, XLE: no group, not shown) are left as they are (test_admin_day_equivalents)
        assert groups == {"VTI": "us_total", "ITOT": "us_total", "BND": "us_agg", "AGG": "us_agg",
                          "SCHB": "us_broad_schwab", "VNQ": "reit", "XLE": "energy"}
        assert AuditEvent.objects.get(action="security.equivalents").after["groups"] == [
            ["AGG", "BND"], ["ITOT", "VTI"]]
    refused = client.post("/securities/equivalents/", {"groups": "VTI, NOPE"})
    assert refused.status_code == 400 and "Not in the security master: NOPE" in text(refused)
    assert as_user("advisor").post("/securities/equivalents/", {"groups": ""}).status_code == 403
    assert "AGG ≡ BND" in text(as_user("advisor").get("/securities/equivalents/"))


# --- Firm-wide harvest substitutes ------------------------------------------------------------------

def test_a_firm_admin_sets_the_firm_wide_harvest_substitutes(firm_a, book, as_user):
    from rebalancing.selectors import firm_harvest_substitutes

    client = as_user("admin")
    assert 'href="/securities/substitutes/"' in text(client.get("/templates/"))
    response = client.post("/securities/substitutes/", {"pairs": "vti = schb\nBND -> AGG\n\n"})
    assert response.status_code == 302
    with tenant_context(firm_a):
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}
        assert AuditEvent.objects.get(action="security.substitutes").after == {
            "substitutes": {"BND": "AGG", "VTI": "SCHB"}}
    page = text(client.get("/securities/substitutes/"))
    assert "BND = AGG VTI = SCHB</textarea>" in page and "that one is used instead" in page
    for typed, problem in (("VTI = ITOT", "ITOT is substantially identical to VTI"),
                           ("VTI = NOPE", "Not in the security master: NOPE"),
                           ("VTI = VTI", "VTI cannot be its own substitute"),
                           ("VTI SCHB", "Line 1: write each pair as SYMBOL = SUBSTITUTE"),
                           ("VTI = SCHB\nVTI = AGG", "VTI has two substitutes (lines 1 and 2)")):
        refused = client.post("/securities/substitutes/", {"pairs": typed})
        assert refused.status_code == 400 and problem in text(refused), typed
    with tenant_context(firm_a):
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}
    for role in ("advisor", "compliance"):
        assert as_user(role).post("/securities/substitutes/", {"pairs": ""}).status_code == 403
        assert "VTI → SCHB" in text(as_user(role).get("/securities/substitutes/"))
    with tenant_context(firm_a):
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}


def test_an_account_page_shows_the_firm_substitutes_and_saving_its_form_does_not_copy_them(firm_a, book, as_user):
    from rebalancing.services.substitutes import harvest_substitutes_set

    account = book["mine"][0]
    with tenant_context(firm_a):
        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=book_admin(firm_a))
    client = as_user("advisor")
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert "<td><code>harvest.substitutes</code></td><td>VTI → SCHB</td>" in page and ">firm list<" in page
    form = {"p__cash__target": "1", "p__harvest__enabled": "no", "p__harvest__min_loss_value": "500",
            "p__harvest__min_loss_pct": "5", "p__harvest__substitutes": "BND = AGG",
            "p__trading__lot_selection": "tax_optimal"}
    assert client.post(f"/accounts/{account.pk}/", form).status_code == 302
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides == {"harvest": {"substitutes": {"BND": "AGG"}}}  # its own pair only
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert "VTI → SCHB, BND → AGG" in page and ">firm list + account<" in page


def book_admin(firm):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="admin@pages.example")


def test_a_firm_admin_adds_the_substitutes_suggested_by_correlation(firm_a, book, as_user):
    from rebalancing.selectors import firm_harvest_substitutes

    from ..rebalancing.test_harvest_substitutes import _prices_that_move

    with tenant_context(firm_a):
        _prices_that_move()
    client = as_user("admin")
    assert 'href="?suggest=1#suggestions"' in text(client.get("/securities/substitutes/"))
    page = client.get("/securities/substitutes/?suggest=1").content.decode()
    assert "Correlation of daily log returns over 89 trading days" in page
    assert "<strong>SCHB</strong>" in page  # for VTI: ITOT moves more like it, but is substantially identical
    assert "Add the 2 suggestions for securities without a substitute" in page  # VTI and BND; VNQ has none
    pairs = re.search(r'<textarea name="pairs" hidden>([^<]*)</textarea><button type="submit" class="primary"',
                      page).group(1)
    assert pairs == "BND = AGG\nVTI = SCHB"
    assert client.post("/securities/substitutes/", {"pairs": pairs}).status_code == 302
    with tenant_context(firm_a):
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}
    advisor_page = as_user("advisor").get("/securities/substitutes/?suggest=1").content.decode()
    assert advisor_page.count(">the same<") == 2  # saved: the substitutes are now the suggested ones
    assert "Add the" not in advisor_page  # suggestions are read by all; saving them is the firm admin's


class _BrowserForm(HTMLParser):
    """What a browser sends for the form ``form_id`` as the page renders it: text and hidden inputs,
    ticked boxes, each select's chosen option (else its first), textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.sent = form_id, False, []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.sent.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = [a["name"], None, None]  # name, first option, chosen option
        elif tag == "option" and self._select:
            self._select[1] = a.get("value") or "" if self._select[1] is None else self._select[1]
            if "selected" in a:
                self._select[2] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            name, first, chosen = self._select
            self.sent.append((name, chosen if chosen is not None else first or ""))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.sent.append(tuple(self._textarea))
            self._textarea = None


def _template_form(response) -> dict[str, list[str]]:
    parser = _BrowserForm("template-form")
    parser.feed(response.content.decode())
    form: dict[str, list[str]] = {}
    for name, value in parser.sent:
        if name != "csrfmiddlewaretoken":
            form.setdefault(name, []).append(value)
    return form


def test_a_refused_template_form_comes_back_as_typed_and_a_second_save_drops_nothing(firm_a, book, as_user):
    # given a template with two direct-index sleeves, a standing instruction and override limits
    template = book["template"]
    _benchmarked(firm_a, book, "us_equity", "real_estate")
    with tenant_context(firm_a):
        template.parameters = {**template.parameters, "instructions": [{"kind": "raise_cash", "amount": 2500.0}],
                               "direct_index": {"us_equity": {"max_names": 200, "min_position_weight": 0.0005},
                                                "real_estate": {"max_names": 50, "min_position_weight": 0.001}}}
        template.save()
        stored = ParameterTemplate.objects.get(pk=template.pk)
    before = (stored.parameters, stored.overridable)
    client = as_user("admin")
    url = f"/templates/{template.pk}/"
    shown = _template_form(client.get(url))
    assert shown["p__direct_index__sleeve"][:2] == ["us_equity", "real_estate"]
    assert shown["ov__p__cash__target"] == ["yes"] and shown["ov_max__p__cash__target"] == ["5"]

    def unchanged():
        with tenant_context(firm_a):
            after = ParameterTemplate.objects.get(pk=template.pk)
        return (after.parameters, after.overridable) == before

    for change, problem in (
        ({"p__direct_index__max_names": ["0", "50", "", ""]}, "us equity: at least 1 name"),  # case A
        ({"ov_min__p__cash__target": ["5"], "ov_max__p__cash__target": ["1"]}, "Target: the minimum is above the maximum"),
        ({"p__instructions__amount": ["", "", ""]}, "row 1: give the amount of cash to raise"),
        ({"p__cash__floor": ["3"]}, "setting “Cash: floor” (3% = 0.03) must not be above “Cash: target”"),  # the engine's rule
    ):
        typed = {**shown, **change}
        # when the form is saved with a mistake in one row
        refused = client.post(url, typed)
        # then the refusal names that mistake, every row and field comes back as typed, nothing is written
        assert refused.status_code == 400 and problem in text(refused), problem
        assert "choose the sleeve" not in text(refused)
        assert _template_form(refused) == typed
        assert unchanged()
        # and saving the page again as it came back is refused the same way, still writing nothing
        again = client.post(url, _template_form(refused))
        assert again.status_code == 400 and problem in text(again) and unchanged(), problem

    # the direct-index rows, the instruction and the limits survive a refusal next to them, then a correction
    corrected = {**shown, "p__direct_index__max_names": ["0", "50", "", ""]}
    corrected = {**_template_form(client.post(url, corrected)), "p__direct_index__max_names": ["150", "50", "", ""]}
    assert client.post(url, corrected).status_code == 302
    with tenant_context(firm_a):
        after = ParameterTemplate.objects.get(pk=template.pk)
    assert after.parameters["direct_index"] == {"us_equity": {"max_names": 150, "min_position_weight": 0.0005},
                                                "real_estate": {"max_names": 50, "min_position_weight": 0.001}}
    assert after.parameters["instructions"] == [{"kind": "raise_cash", "amount": 2500.0}]
    assert all(override_limits(f.path, after.overridable) == override_limits(f.path, before[1]) for f in FIELDS)


def test_a_save_of_the_template_page_keeps_the_limits_it_has_no_row_for(firm_a, book, as_user):
    # given limits the page's table cannot show: a household setting's and a sleeve's own leaf
    template = book["template"]
    beyond = {"household.tax_budget": {"min": 0, "max": 20000},
              "direct_index.us_equity.max_names": {"min": 50, "max": 500}}
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, **beyond}
        template.save()
    client = as_user("admin")
    url = f"/templates/{template.pk}/"
    # when the page is saved as it shows, with one limit of the table changed
    form = {**_template_form(client.get(url)), "ov_max__p__cash__target": ["4"]}
    assert client.post(url, form).status_code == 302
    # then the table's change is saved and the limits beyond it are kept
    with tenant_context(firm_a):
        after = ParameterTemplate.objects.get(pk=template.pk).overridable
    assert {k: after.get(k) for k in beyond} == beyond
    assert after["cash.target"]["max"] == 0.04
    # and the page saved again as it is writes nothing, and audits no change
    with tenant_context(firm_a):
        changes = AuditEvent.objects.filter(action="template.change").count()
    assert client.post(url, _template_form(client.get(url))).status_code == 302
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="template.change").count() == changes
