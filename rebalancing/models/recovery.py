from django.db import models

from .runs import RebalanceRun


class RunWatch(models.Model):
    """What the stall watch (rebalancing.services.run_recovery) has seen of a queued or running run:
    when its progress last moved, and whether it stalled (no chunk finished past the deadline, e.g. a
    worker killed with its chunk), was sent again, and recovered."""

    run = models.OneToOneField(RebalanceRun, on_delete=models.CASCADE, related_name="watch")
    progress = models.PositiveIntegerField(default=0, help_text="Accounts done or failed when last seen")
    progress_seen_at = models.DateTimeField(help_text="When the progress last moved (or was first seen)")
    stalled_at = models.DateTimeField(null=True, blank=True, help_text="When it was first found stalled")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Re-dispatches since the progress last moved")
    redispatches = models.PositiveSmallIntegerField(default=0, help_text="Re-dispatches in all")
    last_redispatch_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True, help_text="When it completed after a re-dispatch")
    given_up_at = models.DateTimeField(null=True, blank=True, help_text="When re-dispatching stopped (no worker took it)")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["stalled_at"])]

    def __str__(self) -> str:
        return f"watch of run {self.run_id}"

    @property
    def state(self) -> str:
        """"" (never stalled), "stalled", "recovering" (progress again after a re-dispatch),
        "recovered" or "given up"."""
        if self.stalled_at is None:
            return ""
        if self.recovered_at is not None:
            return "recovered"
        if self.given_up_at is not None:
            return "given up"
        return "stalled" if self.attempts else "recovering"
