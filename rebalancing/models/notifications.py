from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationPreference(models.Model):
    """How a person who approves proposals hears that some wait for them (without a row: each run)."""

    class Approvals(models.TextChoices):
        EACH_RUN = "each_run", "An e-mail after each run that leaves proposals waiting for me"
        DAILY = "daily", "One e-mail a day listing what waits for me (a digest)"
        OFF = "off", "No e-mail"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    approvals = models.CharField(max_length=16, choices=Approvals.choices, default=Approvals.EACH_RUN)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(approvals__in=["each_run", "daily", "off"]),
                                              name="notification_approvals_known")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_approvals_display()}"
