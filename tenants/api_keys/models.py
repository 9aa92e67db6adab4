from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .scopes import Scope


class ApiKey(models.Model):
    """A credential for integrations: ``rk_<prefix>_<secret>``, acting as its owner within its scopes.

    Only a SHA-256 digest of the secret is stored. A fast hash is enough here (unlike passwords): the
    secret is 32 random bytes, so there is nothing to guess from a leaked digest, and a slow hash would
    cost every API request tens of milliseconds. Keys live in the firm's schema, like their owners, so
    a key of one firm is unknown at every other firm's host.
    """

    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys",
                             help_text="The owner: a person, or a service user with a role")
    prefix = models.CharField(max_length=8, unique=True, help_text="Shown, to tell keys apart")
    secret_sha256 = models.CharField(max_length=64)  # empty: waiting for its owner (awaits_owner)
    scopes = ArrayField(models.CharField(max_length=16, choices=[(s.value, s.value) for s in Scope]))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Never, when empty")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(scopes__len__gt=0), name="api_key_has_a_scope"),
            models.CheckConstraint(condition=Q(scopes__contained_by=[s.value for s in Scope]),
                                   name="api_key_scopes_known"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (rk_{self.prefix})"

    @property
    def awaits_owner(self) -> bool:
        """Issued for its owner by someone else and not collected yet: no secret exists, nobody can use it."""
        return not self.secret_sha256

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class IdempotencyRecord(models.Model):
    """The first successful answer to a POST sent with an ``Idempotency-Key``, replayed for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} -> {self.status_code}"
