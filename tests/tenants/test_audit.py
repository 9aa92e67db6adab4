import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record
from tenants.errors import PermissionDenied

pytestmark = pytest.mark.django_db


def test_a_record_names_who_what_where_and_the_change(firm_a, firm_user):
    user = firm_user(firm_a, "pm@firm-a.example")
    with schema_context(firm_a.schema_name):
        event = audit_record(actor=user, action="template.change", object_type="parametertemplate", object_id="7",
                             before={"cash": 0.01}, after={"cash": 0.02}, comment="client asked")
        event.refresh_from_db()
    assert (event.firm, event.actor, event.actor_kind, event.action) == (
        "firm_firm_a", "pm@firm-a.example", "user", "template.change"
    )
    assert (event.before, event.after, event.comment) == ({"cash": 0.01}, {"cash": 0.02}, "client asked")


def test_records_cannot_be_changed_or_deleted_through_the_orm(firm_a):
    with schema_context(firm_a.schema_name):
        event = audit_record(actor="nightly scan", action="proposal.expire")
        event.comment = "rewritten"
        with pytest.raises(PermissionDenied):
            event.save()
        with pytest.raises(PermissionDenied):
            event.delete()
        with pytest.raises(PermissionDenied):
            AuditEvent.objects.filter(pk=event.pk).update(comment="rewritten")
        with pytest.raises(PermissionDenied):
            AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET comment = 'rewritten'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
])
def test_the_database_itself_refuses_changes_whatever_the_client(firm_a, statement):
    with schema_context(firm_a.schema_name):
        audit_record(actor="system", action="run.complete")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert AuditEvent.objects.filter(action="run.complete").exists()


def test_each_firm_keeps_its_own_trail(firm_a, firm_b):
    with schema_context(firm_a.schema_name):
        audit_record(actor="system", action="run.cancel")
    with schema_context(firm_b.schema_name):
        assert not AuditEvent.objects.filter(action="run.cancel").exists()


def test_an_action_that_is_not_in_the_enumeration_is_refused(firm_a):
    from tenants.audit.actions import Action

    with schema_context(firm_a.schema_name), pytest.raises(ValueError, match="unknown audit action 'proposal.aprove'"):
        audit_record(actor="system", action="proposal.aprove")
    assert Action.words_for("proposal.approve.advisor") == "approved a proposal as its advisor"
    assert Action.words_for("retired.action") == "retired.action"
