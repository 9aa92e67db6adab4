"""The firm's admin: CSV upload, effective parameters on the account page, frozen model versions."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun, Security
from tenants.roles import FirmRole

from .book import AS_OF, make_account, make_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_a(firm_a, firm_user, client_for):
    user = firm_user(firm_a, "admin-ui@firm-a.example", FirmRole.FIRM_ADMIN, is_superuser=True)
    return client_for(firm_a, user)


def test_upload_of_a_good_file_imports_it(firm_a, admin_client_a):
    csv = b"symbol,name,asset_class\nAAA,Triple A Corp,us_equity\nBBB,Double B Inc,us_equity\n"
    response = admin_client_a.post(
        "/admin/rebalancing/security/import/",
        {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv, "text/csv")},
        follow=True,
    )
    assert response.status_code == 200
    assert "Imported securities: 2 rows, 2 created" in response.content.decode()
    with tenant_context(firm_a):
        assert set(Security.objects.values_list("symbol", flat=True)) == {"AAA", "BBB"}


def test_upload_of_a_bad_file_shows_row_and_column_and_writes_nothing(firm_a, admin_client_a):
    csv = b"symbol,name,asset_class,esg_score\nAAA,Triple A,us_equity,50\nBBB,Double B,us_equity,lots\n"
    response = admin_client_a.post(
        "/admin/rebalancing/security/import/",
        {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv, "text/csv")},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "The file was refused" in body
    assert "<td>3</td><td>esg_score</td>" in body
    with tenant_context(firm_a):
        assert not Security.objects.exists()


def test_account_page_shows_effective_parameters_and_their_source(firm_a, admin_client_a):
    with tenant_context(firm_a):
        book = make_book(1)
        account = make_account("T-OVR", model=book["model"], template=book["template"],
                               overrides={"cash": {"target": 0.03}})
    body = admin_client_a.get(f"/admin/rebalancing/account/{account.pk}/change/").content.decode()
    assert "<code>cash.target</code></td><td>0.03</td><td>account</td>" in body
    assert "<code>trading.whole_shares</code></td><td>true</td><td>template:standard</td>" in body


def test_account_override_outside_template_limits_is_refused_in_the_admin(firm_a, admin_client_a):
    with tenant_context(firm_a):
        book = make_book(1)
        account = book["accounts"][0]
    data = {
        "custodian_number": account.custodian_number, "name": account.name, "household": account.household_id,
        "model": book["model"].pk, "template": "", "overrides": '{"cash": {"target": 0.5}}', "taxable": "on",
        "short_term_rate": "0.37", "long_term_rate": "0.2", "cash": "1000", "realised_short_term_ytd": "0",
        "realised_long_term_ytd": "0", "lots-TOTAL_FORMS": "0", "lots-INITIAL_FORMS": "0",
    }
    response = admin_client_a.post(f"/admin/rebalancing/account/{account.pk}/change/", data)
    assert response.status_code == 200
    assert "above the template&#x27;s maximum 5%" in response.content.decode()


def test_a_model_version_used_by_a_proposal_cannot_be_edited(firm_a, admin_client_a):
    with tenant_context(firm_a):
        book = make_book(1)
        version = book["model"].current_version
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=AS_OF, total=1)
        Proposal.objects.create(run=run, account=book["accounts"][0], model_version=version, parameters={},
                                inputs_fingerprint="x", result={})
    page = admin_client_a.get(f"/admin/rebalancing/modelversion/{version.pk}/change/").content.decode()
    assert 'name="note"' not in page  # read-only: no input for the note


def test_a_published_model_version_its_sleeves_and_holdings_are_read_only_in_the_admin(firm_a, admin_client_a):
    """Published versions are frozen (proposals keep the version they used), even before any proposal
    used them: the admin shows them, never adds, changes or deletes them (the model page makes a new version)."""
    from decimal import Decimal

    from rebalancing.models import ModelVersion, Sleeve, SleeveHolding

    with tenant_context(firm_a):
        book = make_book(1)
        version = book["model"].current_version
        sleeve = version.sleeves.get(asset_class="us_equity")
        holding = sleeve.holdings.get()
    page = admin_client_a.get(f"/admin/rebalancing/sleeve/{sleeve.pk}/change/")
    assert page.status_code == 200 and 'name="weight"' not in page.content.decode()  # view allowed, nothing to edit
    response = admin_client_a.post(f"/admin/rebalancing/sleeve/{sleeve.pk}/change/", {
        "version": version.pk, "asset_class": "us_equity", "weight": "0.95", "kind": "holdings",
        "holdings-TOTAL_FORMS": "1", "holdings-INITIAL_FORMS": "1", "holdings-0-id": holding.pk,
        "holdings-0-sleeve": sleeve.pk, "holdings-0-security": holding.security_id, "holdings-0-weight": "0.5",
    })
    assert response.status_code == 403
    version_page = admin_client_a.get(f"/admin/rebalancing/modelversion/{version.pk}/change/").content.decode()
    assert 'name="note"' not in version_page and 'name="sleeves-0-weight"' not in version_page
    assert admin_client_a.post(f"/admin/rebalancing/modelversion/{version.pk}/change/",
                               {"model": book["model"].pk, "number": "1", "note": "edited"}).status_code == 403
    for url in ("/admin/rebalancing/sleeve/add/", "/admin/rebalancing/modelversion/add/",
                f"/admin/rebalancing/sleeve/{sleeve.pk}/delete/", f"/admin/rebalancing/modelversion/{version.pk}/delete/"):
        assert admin_client_a.get(url).status_code == 403, url
        assert admin_client_a.post(url, {"post": "yes"}).status_code == 403, url
    with tenant_context(firm_a):
        sleeve.refresh_from_db()
        holding.refresh_from_db()
        version.refresh_from_db()
        assert sleeve.weight == Decimal("0.6") and holding.weight == Decimal("1") and version.note == ""
        assert ModelVersion.objects.count() == 1 and Sleeve.objects.count() == 3 and SleeveHolding.objects.count() == 3


def test_changes_in_the_admin_are_audited(firm_a, admin_client_a, firm_user):
    from django.contrib.auth.models import Group

    from tenants.audit.models import AuditEvent

    with tenant_context(firm_a):
        book = make_book(1)
        template = book["template"]
        advisor = firm_user(firm_a, "adv-admin@firm-a.example", FirmRole.ADVISOR)
        compliance_group = Group.objects.get_or_create(name=FirmRole.COMPLIANCE)[0]
    admin_client_a.post(f"/admin/rebalancing/parametertemplate/{template.pk}/change/", {
        "code": template.code, "name": "Standard (edited)", "description": "",
        "parameters": '{"cash": {"target": 0.02}}', "overridable": "{}",
    })
    admin_client_a.post(f"/admin/auth/user/{advisor.pk}/change/", {
        "username": advisor.username, "email": advisor.email, "is_active": "on",
        "groups": [compliance_group.pk], "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    with tenant_context(firm_a):
        changed = AuditEvent.objects.get(action="admin.change", object_type="parametertemplate", object_id=str(template.pk))
        roles = AuditEvent.objects.get(action="admin.change", object_type="user", object_id=str(advisor.pk))
    assert changed.before["name"] == "Standard" and changed.after["name"] == "Standard (edited)"
    assert roles.after["groups"] == [str(compliance_group.pk)] and roles.after["password"] == "(hidden)"


def test_the_admin_cannot_give_a_household_an_advisor_behind_the_object_permissions(firm_a, admin_client_a, firm_user):
    """Advisors are object permissions only, given on the household page: the admin form has no
    advisor field, and posting one changes nothing."""
    from rebalancing.access import accounts_visible_to

    advisor = firm_user(firm_a, "adv-move@firm-a.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        household = account.household
    page = admin_client_a.get(f"/admin/rebalancing/household/{household.pk}/change/").content.decode()
    assert 'name="advisor"' not in page and 'name="managed_as"' in page
    admin_client_a.post(f"/admin/rebalancing/household/{household.pk}/change/", {
        "name": household.name, "external_id": household.external_id, "advisor": advisor.pk,
        "template": household.template_id or "", "overrides": "{}", "managed_as": "accounts", "model": "",
        "household_overrides": "{}",
    })
    with tenant_context(firm_a):
        assert not accounts_visible_to(advisor).exists()
