"""tenants.people's rules for links and names, below the pages: who may send them, who gets one from
"Forgot your password?", that a link leaves only once its change is committed, and a name's limits."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django_tenants.utils import schema_context
from guardian.conf import settings as guardian_settings

from rebalancing.services.people import FIRM_PEOPLE
from tenants import people
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

SITE = "http://firm-a.localhost/"


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@links.example", FirmRole.FIRM_ADMIN)


def test_only_someone_who_manages_people_sends_links_or_names_people(firm_a, firm_user, admin, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@links.example", FirmRole.PORTFOLIO_MANAGER)
    advisor = firm_user(firm_a, "advisor@links.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name), django_capture_on_commit_callbacks(execute=True):
        for call in (lambda: people.password_reset_send(FIRM_PEOPLE, user=advisor, by=pm, site_url=SITE),
                     lambda: people.invitation_resend(FIRM_PEOPLE, user=advisor, by=pm, site_url=SITE),
                     lambda: people.name_set(FIRM_PEOPLE, user=advisor, first_name="X", last_name="", by=pm)):
            with pytest.raises(PermissionDenied):
                call()
        assert not AuditEvent.objects.filter(action__in=["user.password_reset", "user.invite.resend",
                                                         "user.name"]).exists()
    assert mailoutbox == []


def test_a_link_leaves_only_when_its_audit_row_is_committed(firm_a, firm_user, admin, mailoutbox,
                                                            django_capture_on_commit_callbacks):
    advisor = firm_user(firm_a, "advisor@links.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name), django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            people.password_reset_send(FIRM_PEOPLE, user=advisor, by=admin, site_url=SITE)
            raise RuntimeError("the request failed after the service")
        assert callbacks == [] and not AuditEvent.objects.filter(action="user.password_reset").exists()
        people.password_reset_send(FIRM_PEOPLE, user=advisor, by=admin, site_url=SITE)
    (sent,) = mailoutbox
    assert sent.to == ["advisor@links.example"] and "http://firm-a.localhost/accounts/set-password/" in sent.body


def test_a_name_is_at_most_its_columns_length_and_the_field_is_named(firm_a, firm_user, admin):
    advisor = firm_user(firm_a, "advisor@links.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        with pytest.raises(ValidationFailed, match="The first name of advisor@links.example is 151") as refused:
            people.name_set(FIRM_PEOPLE, user=advisor, first_name="A" * 151, last_name="", by=admin)
        assert refused.value.detail == {"field": "first_name"}
        people.name_set(FIRM_PEOPLE, user=advisor, first_name="A" * 150, last_name="B", by=admin)  # just fits
        advisor.refresh_from_db()
        assert advisor.first_name == "A" * 150
        assert AuditEvent.objects.get(action="user.name").after == {"first_name": "A" * 150, "last_name": "B"}


def test_forgot_password_reaches_active_people_of_this_schema_with_that_address_only(firm_a, firm_b, firm_user,
                                                                                    admin):
    User = get_user_model()
    firm_user(firm_a, "mike@links.example", FirmRole.ADVISOR)
    gone = firm_user(firm_a, "gone@links.example", FirmRole.ADVISOR)
    firm_user(firm_b, "bea@links.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        gone.is_active = False
        gone.save(update_fields=["is_active"])
        invited = people.invite(FIRM_PEOPLE, email="ivy@links.example", first_name="", last_name="",
                                roles=[FirmRole.ADVISOR], by=admin, site_url=SITE)
        User.objects.get_or_create(username=guardian_settings.ANONYMOUS_USER_NAME)

        def names(email):
            return [u.username for u in people.password_link_recipients(email)]

        assert names(" MIKE@Links.example ") == ["mike@links.example"]
        assert names("ivy@links.example") == [invited.username]  # invited: their invitation again
        assert names("gone@links.example") == []  # deactivated
        assert names("bea@links.example") == []  # another firm's
        assert names("") == []  # guardian's AnonymousUser has no address, and nobody is ""
        # PostgreSQL's upper() folds the dotless "ı" to "I", Unicode does not: not Mike's address
        assert names("mıke@links.example") == []
