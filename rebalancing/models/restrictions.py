from django.conf import settings
from django.db import models
from django.db.models import F, Q


class RestrictedQuerySet(models.QuerySet):
    def in_force_on(self, day):
        """Entries that bind on ``day``: started, not ended (``until`` is the last day), not lifted
        on or before it."""
        return self.filter(Q(until__isnull=True) | Q(until__gte=day), Q(lifted_on__isnull=True) | Q(lifted_on__gt=day),
                           starts_on__lte=day)

    def current_or_coming(self, day):
        """In force on ``day`` or starting after it: what compliance still maintains."""
        return self.filter(Q(until__isnull=True) | Q(until__gte=day), Q(lifted_on__isnull=True) | Q(lifted_on__gt=day))


class RestrictedSecurity(models.Model):
    """One entry of the firm's restricted list, kept by compliance: a security no account of the firm
    may buy (or trade at all) from ``starts_on`` to ``until`` (open: until lifted). Every account's
    effective parameters take the entries in force on the run's day (``restrictions.do_not_buy``, and
    ``do_not_sell`` for do not trade; ``rebalancing.effective_parameters``)."""

    class Restriction(models.TextChoices):
        DO_NOT_BUY = "do_not_buy", "Do not buy"
        DO_NOT_TRADE = "do_not_trade", "Do not trade (no buys, no sells)"

    security = models.ForeignKey("rebalancing.Security", on_delete=models.PROTECT, related_name="restrictions")
    restriction = models.CharField(max_length=16, choices=Restriction.choices)
    reason = models.TextField(help_text="Why it is restricted (e.g. the firm holds inside information)")
    starts_on = models.DateField()
    until = models.DateField(null=True, blank=True, help_text="The last day it binds; empty: until lifted")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    lifted_on = models.DateField(null=True, blank=True, help_text="The day it was lifted: it binds no day from then")
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    lift_reason = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["security__symbol", "-starts_on", "-id"]
        verbose_name = "restricted list entry"
        verbose_name_plural = "restricted list"
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="restricted_reason_not_empty"),
            models.CheckConstraint(condition=Q(until__isnull=True) | Q(until__gte=F("starts_on")),
                                   name="restricted_until_not_before_start"),
            models.CheckConstraint(condition=Q(restriction__in=["do_not_buy", "do_not_trade"]),
                                   name="restricted_restriction_known"),
        ]

    def __str__(self) -> str:
        return f"{self.security} {self.get_restriction_display().lower()}"
