from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class ReleaseBatch(models.Model):
    """Every proposal approved when a portfolio manager asked, released by a worker one after the
    other (``services.release_batches``): a book of thousands of approved proposals is released in
    one decision, not 25 at a time, and the page follows its progress. Each proposal is released
    through ``proposal_release`` in its own transaction, so one that expired or moved on meanwhile is
    refused with its reason and holds no other back."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Releasing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    UNDER_WAY = (Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    proposal_ids = ArrayField(models.BigIntegerField(), help_text="The approved proposals when it was asked for, "
                                                                  "in the order they are released")
    comment = models.CharField(max_length=500, blank=True)
    done = models.PositiveIntegerField(default=0, help_text="Proposals handled so far (released or refused)")
    released = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    refusals = models.JSONField(default=list, blank=True,
                                help_text="The first refusals: proposal, account and the reason")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True, help_text="When its worker last moved it on")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One release of every approved proposal at a time (per schema, so per firm): a second
            # request is answered with it.
            models.UniqueConstraint(models.Value(True), condition=Q(status__in=["queued", "running"]),
                                    name="release_batch_one_under_way"),
            models.CheckConstraint(condition=Q(done=models.F("released") + models.F("refused")),
                                   name="release_batch_done_counts"),
        ]

    def __str__(self) -> str:
        return f"Release of {len(self.proposal_ids)} approved proposals ({self.get_status_display().lower()})"

    @property
    def total(self) -> int:
        return len(self.proposal_ids)

    @property
    def under_way(self) -> bool:
        return self.status in self.UNDER_WAY
