import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from tenants.errors import Conflict, ValidationFailed
from tenants.models import Domain, Firm
from tenants.roles import FirmRole
from tenants.services import firm_create

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
        ({"domain": "firm-a.localhost"}, Conflict, "already belongs to another firm"),
    ],
)
def test_bad_onboarding_input_is_refused_and_leaves_nothing(changes, error, message):
    before = _registry_counts()

    with pytest.raises(error, match=message):
        firm_create(**(NEW_FIRM | changes))

    assert _registry_counts() == before
    assert not schema_exists("firm_cedar")


def test_duplicate_slug_of_another_firm_is_refused(firm_a):
    with pytest.raises(Conflict, match="already exists as 'Firm A Wealth'"):
        firm_create(name="Someone Else", slug="firm-a", admin_email="x@else.example")
    assert Firm.objects.get(slug="firm-a").name == "Firm A Wealth"


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


def test_create_firm_command_reports_and_is_idempotent(capsys):
    call_command("create_firm", name="Cedar Capital", slug="cedar", admin_email="admin@cedar.example")
    first = capsys.readouterr().out
    call_command("create_firm", name="Cedar Capital", slug="cedar", admin_email="admin@cedar.example")
    second = capsys.readouterr().out

    assert "Created firm 'Cedar Capital' (schema firm_cedar)" in first
    assert "changepassword admin@cedar.example --schema=firm_cedar" in first
    assert "already exists" in second and "nothing changed" in second
    assert Firm.objects.filter(slug="cedar").count() == 1


def test_create_firm_command_names_the_problem():
    with pytest.raises(CommandError, match="invalid: 'nope' is not a valid e-mail address"):
        call_command("create_firm", name="Cedar", slug="cedar", admin_email="nope")
    assert not Firm.objects.filter(slug="cedar").exists()
