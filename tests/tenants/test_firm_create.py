import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context, schema_exists

from tenants.errors import Conflict, ValidationFailed
from tenants.models import Domain, Firm
from tenants.roles import FirmRole, ProviderRole
from tenants.services import firm_create, user_ensure

pytestmark = pytest.mark.django_db

NEW_FIRM = {"name": "Cedar Capital", "slug": "cedar", "admin_email": "Admin@Cedar.example"}


def _registry_counts():
    return Firm.objects.count(), Domain.objects.count()


def test_onboarding_creates_schema_host_and_admin():
    result = firm_create(**NEW_FIRM)

    firm = result.firm
    assert result.created is True
    assert firm.schema_name == "firm_cedar"
    assert schema_exists("firm_cedar")
    assert firm.primary_domain == "cedar.localhost"
    with schema_context("firm_cedar"):
        admin = get_user_model().objects.get(username="admin@cedar.example")
        assert list(admin.groups.values_list("name", flat=True)) == [FirmRole.FIRM_ADMIN.value]
        assert admin.is_staff and not admin.has_usable_password()
    assert not get_user_model().objects.filter(username="admin@cedar.example").exists()  # not in public


def test_onboarding_twice_changes_nothing():
    firm_create(**NEW_FIRM)
    before = _registry_counts()

    again = firm_create(**NEW_FIRM)

    assert again.created is False
    assert _registry_counts() == before


def test_hyphenated_slug_maps_to_a_valid_schema_name():
    result = firm_create(name="Oak & Pine", slug="oak-pine", admin_email="ops@oak.example")
    assert result.firm.schema_name == "firm_oak_pine"
    assert result.firm.primary_domain == "oak-pine.localhost"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"slug": "Bad Slug"}, ValidationFailed, "Invalid slug 'Bad Slug'"),
        ({"slug": "x"}, ValidationFailed, "Invalid slug 'x'"),
        ({"slug": "public"}, ValidationFailed, "reserved"),
        ({"name": "  "}, ValidationFailed, "needs a name"),
        ({"admin_email": "not-an-email"}, ValidationFailed, "not a valid e-mail"),
        ({"domain": "bad_domain!.example"}, ValidationFailed, "not a valid host name"),
        ({"domain": "-lead.example"}, ValidationFailed, "not a valid host name"),
        ({"domain": "cedar.example.com"}, ValidationFailed, "This deployment does not serve 'cedar.example.com'"),
        ({"domain": "firm-a.localhost"}, Conflict, "already belongs to another firm"),
        # Too long for its column: named, not the database's (or full_clean's) error.
        ({"name": "N" * 201}, ValidationFailed, "The firm was not saved: name: Ensure this value has at most 200"),
        ({"admin_email": "a" * 140 + "@cedar.example"}, ValidationFailed,
         "The admin's e-mail address has at most 150 characters"),
        ({"admin_email": "a" * 290 + "@cedar.example"}, ValidationFailed,
         "The admin's e-mail address has at most 150 characters"),
    ],
)
def test_bad_onboarding_input_is_refused_and_leaves_nothing(changes, error, message):
    before = _registry_counts()

    with pytest.raises(error, match=message):
        firm_create(**(NEW_FIRM | changes))

    assert _registry_counts() == before
    assert not schema_exists("firm_cedar")


@override_settings(ALLOWED_HOSTS=["localhost", ".localhost", "wealth.cedar.example"])
def test_a_host_of_its_own_is_served_once_the_deployment_answers_on_it():
    assert firm_create(**NEW_FIRM, domain="Wealth.Cedar.example").firm.primary_domain == "wealth.cedar.example"


def test_duplicate_slug_of_another_firm_is_refused(firm_a):
    with pytest.raises(Conflict, match="already exists as 'Firm A Wealth'"):
        firm_create(name="Someone Else", slug="firm-a", admin_email="x@else.example")
    assert Firm.objects.get(slug="firm-a").name == "Firm A Wealth"


@pytest.mark.parametrize("name", ["Firm A Wealth", "  firm a WEALTH "])
def test_another_firm_of_an_existing_firms_name_is_refused_naming_it(firm_a, name):
    """Two firms of one name read alike on the console and in the run menu: refused, whatever the case
    or surrounding spaces, naming the firm that has it; nothing is written."""
    before = _registry_counts()
    with pytest.raises(Conflict, match="A firm named 'Firm A Wealth' is already onboarded \\(slug 'firm-a'\\)") as exc:
        firm_create(name=name, slug="cedar", admin_email="ops@cedar.example")
    assert exc.value.detail["field"] == "name"
    assert _registry_counts() == before
    assert not schema_exists("firm_cedar")


def test_failure_half_way_rolls_back_row_host_and_schema(monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("user store unavailable")

    monkeypatch.setattr("tenants.services.user_ensure", explode)
    before = _registry_counts()

    with pytest.raises(RuntimeError):
        firm_create(**NEW_FIRM)

    assert _registry_counts() == before
    assert not schema_exists("firm_cedar")
    assert connection.schema_name == "public"


@override_settings(SITE_SCHEME="https", SITE_PORT=0)
def test_create_firm_command_reports_and_is_idempotent(capsys):
    call_command("create_firm", name="Cedar Capital", slug="cedar", admin_email="admin@cedar.example")
    first = capsys.readouterr().out
    call_command("create_firm", name="Cedar Capital", slug="cedar", admin_email="admin@cedar.example")
    second = capsys.readouterr().out

    assert "Created firm 'Cedar Capital' (schema firm_cedar)" in first
    assert f"Sign-in: https://{Firm.objects.get(slug='cedar').primary_domain}/ " in first
    assert "changepassword admin@cedar.example --schema=firm_cedar" in first
    assert "already exists" in second and "nothing changed" in second
    assert Firm.objects.filter(slug="cedar").count() == 1


def test_create_firm_command_names_the_problem():
    with pytest.raises(CommandError, match="invalid: 'nope' is not a valid e-mail address"):
        call_command("create_firm", name="Cedar", slug="cedar", admin_email="nope")
    assert not Firm.objects.filter(slug="cedar").exists()


def test_create_firm_command_names_a_value_too_long_for_its_column():
    with pytest.raises(CommandError, match="invalid: The firm was not saved: name: Ensure this value has at most 200"):
        call_command("create_firm", name="N" * 201, slug="cedar", admin_email="admin@cedar.example")
    assert not Firm.objects.filter(slug="cedar").exists()
    assert not schema_exists("firm_cedar")


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_user_name_too_long_for_its_column_is_named_and_no_user_is_made(field):
    with pytest.raises(ValidationFailed, match=f"The user was not saved: {field}: Ensure this value has at most 150"):
        user_ensure(username="ops@provider.example", email="ops@provider.example",
                    roles=[ProviderRole.PROVIDER_ADMIN], **{field: "N" * 151})
    assert not get_user_model().objects.filter(username="ops@provider.example").exists()


def test_a_user_address_too_long_for_its_column_is_named_and_no_user_is_made():
    email = "a" * 250 + "@p.example"
    with pytest.raises(ValidationFailed, match="The user was not saved: .*email: Ensure this value has at most 254"):
        user_ensure(username="ops", email=email, roles=[ProviderRole.PROVIDER_ADMIN])
    assert not get_user_model().objects.filter(username="ops").exists()


def test_a_new_firm_is_counted_by_a_worker_at_once_in_its_own_schema(monkeypatch, django_capture_on_commit_callbacks):
    """The provider console said "not yet counted" for a firm onboarded that day (the count is nightly)."""
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, *a, **k: sent.append((name, connection.schema_name)))

    with django_capture_on_commit_callbacks(execute=True):
        firm_create(**NEW_FIRM)
    with django_capture_on_commit_callbacks(execute=True):
        firm_create(**NEW_FIRM)  # the same request again: nothing new to count

    assert sent == [("tenants.tasks.firm_usage_snapshot", "firm_cedar")]
