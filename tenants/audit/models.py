from django.db import models

from tenants.errors import PermissionDenied


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("The audit trail is append-only: its records are never changed.")

    def delete(self):
        raise PermissionDenied("The audit trail is append-only: its records are never deleted.")


class AuditEvent(models.Model):
    """Who did what, when, in which firm, with the state before and after.

    Written by services in the same transaction as the change it records. Append-only three times
    over: this model refuses updates and deletes, no interface offers them, and a database trigger
    (migration 0002) rejects UPDATE and DELETE on the table whatever the client.
    """

    class ActorKind(models.TextChoices):
        USER = "user", "User"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System (scheduled or automatic)"
        ANONYMOUS = "anonymous", "Not signed in (e.g. a failed sign-in)"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    firm = models.CharField(max_length=63, help_text="Schema the change was made in")
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.BigIntegerField(null=True, blank=True, help_text="User or API key id in this schema")
    actor = models.CharField(max_length=200, help_text="User name, key name or process, as it was then")
    action = models.CharField(max_length=64, db_index=True, help_text='e.g. "proposal.approve"')
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    comment = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("The audit trail is append-only: its records are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("The audit trail is append-only: its records are never deleted.")
