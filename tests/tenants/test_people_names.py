"""tenants.people's rules for a person's name and roles, below the pages: a name is refused, the field
named, when longer than its column or when it holds a character that cannot be seen (invited or renamed
alike, one check); a person keeps at least one role; the last active admin keeps theirs, however it is
taken."""

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from rebalancing.services.people import FIRM_PEOPLE
from tenants import people
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

SITE = "http://firm-a.localhost/"

# Before, every one of these was stored as typed (a bell, a NUL, a line break, a right-to-left override
# that shows "Ann" reversed, a zero-width space, a byte-order mark, a C1 control).
UNSEEN = [("A\x00nn", "a control character (U+0000) at position 2"),
          ("A\x07nn", "a control character (U+0007) at position 2"),
          ("An\nn", "a line break (U+000A) at position 3"),
          ("\u202eAnn", "right-to-left override (U+202E) at position 1"),
          ("An\u200bn", "zero width space (U+200B) at position 3"),
          ("Ann\ufeffe", "zero width no-break space (U+FEFF) at position 4"),
          ("An\x85n", "a control character (U+0085) at position 3")]


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@names.example", FirmRole.FIRM_ADMIN)


def _invite(admin, **names):
    return people.invite(FIRM_PEOPLE, email="new@names.example", roles=[FirmRole.ADVISOR], by=admin, site_url=SITE,
                         **{"first_name": "Ann", "last_name": "Lee", **names})


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_an_invited_name_longer_than_its_column_is_refused_as_a_renamed_one_is(firm_a, admin, field):
    with schema_context(firm_a.schema_name):
        # When the name is one character too long (before: cut to 150 without a word)
        with pytest.raises(ValidationFailed) as refused:
            _invite(admin, **{field: "A" * 151})
        # Then the same words as a rename's, the field named, and nobody invited
        words = field.replace("_", " ")
        assert refused.value.message == (f"The {words} of new@names.example is 151 characters long; "
                                         "at most 150 fit.")
        assert refused.value.detail == {"field": field}
        assert not get_user_model().objects.filter(username="new@names.example").exists()
        assert not AuditEvent.objects.filter(action="user.invite").exists()
        # ...and 150 just fits, as it does for a rename
        assert getattr(_invite(admin, **{field: "A" * 150}), field) == "A" * 150


@pytest.mark.parametrize(("typed", "named"), UNSEEN)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_an_invited_name_with_a_character_that_cannot_be_seen_is_refused(firm_a, admin, field, typed, named):
    with schema_context(firm_a.schema_name):
        with pytest.raises(ValidationFailed) as refused:
            _invite(admin, **{field: typed})
        assert refused.value.message == (f"The {field.replace('_', ' ')} of new@names.example contains {named}, "
                                         "which cannot be seen; remove it.")
        assert refused.value.detail == {"field": field}
        assert not get_user_model().objects.filter(username="new@names.example").exists()


@pytest.mark.parametrize(("typed", "named"), UNSEEN)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_new_name_with_a_character_that_cannot_be_seen_is_refused(firm_a, firm_user, admin, field, typed, named):
    advisor = firm_user(firm_a, "advisor@names.example", FirmRole.ADVISOR, first_name="Ann", last_name="Lee")
    with schema_context(firm_a.schema_name):
        with pytest.raises(ValidationFailed) as refused:
            people.name_set(FIRM_PEOPLE, user=advisor, by=admin,
                            **{"first_name": "Ann", "last_name": "Lee", field: typed})
        assert refused.value.message == (f"The {field.replace('_', ' ')} of advisor@names.example contains {named}, "
                                         "which cannot be seen; remove it.")
        assert refused.value.detail == {"field": field}
        advisor.refresh_from_db()
        assert (advisor.first_name, advisor.last_name) == ("Ann", "Lee")
        assert not AuditEvent.objects.filter(action="user.name").exists()


def test_names_in_every_script_are_kept_with_the_joiners_some_need(firm_a, firm_user, admin):
    # Persian writes some names with a zero-width non-joiner (U+200C) inside a word: it is not refused
    advisor = firm_user(firm_a, "advisor@names.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        people.name_set(FIRM_PEOPLE, user=advisor, first_name="  José-Zoë ", last_name="مهر\u200cآرا", by=admin)
        advisor.refresh_from_db()
        assert (advisor.first_name, advisor.last_name) == ("José-Zoë", "مهر\u200cآرا")
        assert _invite(admin, first_name="Ngô", last_name="O’Brien-Łukasz").first_name == "Ngô"


def test_every_role_untaken_is_refused_rather_than_leaving_someone_with_none(firm_a, firm_user, admin):
    advisor = firm_user(firm_a, "advisor@names.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        with pytest.raises(ValidationFailed) as refused:
            people.roles_set(FIRM_PEOPLE, user=advisor, roles=[], by=admin)
        assert refused.value.message == ("Choose at least one role for advisor@names.example; to stop them signing "
                                         "in, deactivate them instead.")
        assert refused.value.detail == {"field": "roles"}
        assert list(advisor.groups.values_list("name", flat=True)) == [FirmRole.ADVISOR]
        assert not AuditEvent.objects.filter(action__startswith="user.role").exists()


def test_the_last_active_admin_keeps_their_role_however_it_is_taken(firm_a, admin):
    # Given admin@names.example, the firm's only active admin (the onboarded one has left)...
    with schema_context(firm_a.schema_name):
        User = get_user_model()
        User.objects.filter(groups__name=FirmRole.FIRM_ADMIN).exclude(pk=admin.pk).update(is_active=False)
        # ...when the role is taken alone (before: refused only if no admin at all, active or not, was left)
        with pytest.raises(ValidationFailed, match="is the firm's last active admin and cannot be removed as admin"):
            people.role_change(FIRM_PEOPLE, admin, FirmRole.FIRM_ADMIN, by=admin, grant=False)
        # ...or with the roles form (already refused: tests/frontend/test_people_form_refusals.py)
        with pytest.raises(ValidationFailed, match="last active admin"):
            people.roles_set(FIRM_PEOPLE, user=admin, roles=[FirmRole.PORTFOLIO_MANAGER], by=admin)
        # Then they are still an admin, and nothing was recorded
        assert list(admin.groups.values_list("name", flat=True)) == [FirmRole.FIRM_ADMIN]
        assert not AuditEvent.objects.filter(action__startswith="user.role").exists()
