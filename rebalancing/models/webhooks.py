"""Webhooks (rebalancing.webhooks): where a firm wants to be told, what happened, and each attempt
to tell it. Per firm schema, like everything of the firm's: one firm's endpoints never see another
firm's events, because they are not in the same tables."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class WebhookEndpointQuerySet(models.QuerySet):
    def present(self) -> "WebhookEndpointQuerySet":
        """Not removed: what the lists show and what can be changed. A removed endpoint stays (its
        delivery log is the audit's) but is never sent to again."""
        return self.filter(removed_at__isnull=True)

    def removed(self) -> "WebhookEndpointQuerySet":
        return self.filter(removed_at__isnull=False)

    def receiving(self) -> "WebhookEndpointQuerySet":
        """What an event is sent to: switched on (so not removed) and not paused."""
        return self.filter(active=True, paused_at__isnull=True)

    def previous_secrets_forget(self, now) -> int:
        """Clear the replaced secrets whose grace period has ended by ``now`` (``signing_secrets``
        signs with none of them any more): a secret that signs nothing is not kept. How many."""
        return (self.exclude(previous_secret="").filter(previous_secret_until__lte=now)
                .update(previous_secret="", previous_secret_until=None))


class WebhookEndpoint(models.Model):
    """A URL a firm admin registered, the secret its deliveries are signed with, the events it takes."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Kept as given: signing needs it (HMAC), so it cannot be stored as a digest. Shown once.
    secret = models.CharField(max_length=200)
    # After a rotation the secret it replaced still signs, beside the new one, until
    # ``previous_secret_until`` (rebalancing.webhooks.signing.SECRET_ROTATION_GRACE), so a receiver can
    # switch without refusing a delivery.
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    event_types = ArrayField(models.CharField(max_length=64), help_text="rebalancing.webhooks.events.EventType")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed, not deleted: its deliveries (and their audit) stay readable; it is off for good.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Deliveries in a row that failed for good (every attempt spent) since the last success: at
    # WEBHOOK_PAUSE_AFTER_FAILURES the endpoint is paused, so a dead receiver stops holding the
    # notify queue's workers (rebalancing.webhooks.pausing).
    failures_in_a_row = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=500, blank=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(url__regex=r"^https?://"), name="webhook_url_http"),
            models.CheckConstraint(condition=~models.Q(event_types=[]), name="webhook_has_events"),
            models.CheckConstraint(condition=models.Q(removed_at__isnull=True) | models.Q(active=False),
                                   name="webhook_removed_is_off"),
            models.CheckConstraint(
                condition=(models.Q(previous_secret="", previous_secret_until__isnull=True)
                           | (~models.Q(previous_secret="") & models.Q(previous_secret_until__isnull=False))),
                name="webhook_previous_secret_has_end"),
            models.CheckConstraint(condition=models.Q(paused_at__isnull=True, paused_reason="")
                                   | (models.Q(paused_at__isnull=False) & ~models.Q(paused_reason="")),
                                   name="webhook_paused_says_why"),
        ]

    def __str__(self) -> str:
        # The name the audit trail and admin lists show: the URL masked (its path may be a credential).
        from rebalancing.webhooks.addresses import url_for_audit

        return url_for_audit(self.url)

    @property
    def secret_hint(self) -> str:
        # Enough to tell secrets apart, too little to help guess one: at most a quarter of it (a secret
        # given by the firm may have only 16 characters) and at most 10 (whsec_ and 4 of a made one).
        return f"{self.secret[:min(10, len(self.secret) // 4)]}…"

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def signing_secrets(self, now) -> list[str]:
        """What a delivery sent at ``now`` is signed with: the secret, then, within the grace period
        after a rotation, the one it replaced."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    @property
    def previous_secret_signs_until(self):
        """When the replaced secret stops signing; None when it no longer does (or there is none)."""
        now = timezone.now()
        return self.previous_secret_until if len(self.signing_secrets(now)) > 1 else None


class WebhookEvent(models.Model):
    """Something that happened, as sent: its id is the idempotency id every delivery of it carries
    (retries and re-sends included), so a receiver acts on it once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(help_text="The event's data: the body's \"data\"")
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: attempted until it is answered 2xx or the retries run out.
    A re-send by a firm admin is a new delivery of the same event (same idempotency id)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        RETRYING = "retrying", "Failed, will retry"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed, gave up"
        CANCELLED = "cancelled", "Not sent: the endpoint was removed or paused"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Of the last attempt")
    response_excerpt = models.CharField(max_length=500, blank=True, help_text="Start of the last answer's body")
    error = models.CharField(max_length=500, blank=True, help_text="Why the last attempt failed")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    resent_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event.event_type} to {self.endpoint}: {self.status}"
