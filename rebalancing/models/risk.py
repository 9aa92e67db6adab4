import math

from django.conf import settings
from django.db import models
from django.db.models import Q

from rebalancing import engine


class RiskModelVersion(models.Model):
    """A risk model estimated from the firm's prices (``services.risk_models``), kept as a version:
    proposals record the one they were tracked with, so a later estimate never rewrites history.

    ``estimate``: the factor form the engine uses, compact - ``{"loadings": [[...] per symbol],
    "specific": [...] per symbol}`` (annual), in the order of ``symbols`` (the securities covered)."""

    class Method(models.TextChoices):
        LEDOIT_WOLF = "ledoit_wolf", "Ledoit-Wolf shrinkage, principal components as factors"

    as_of = models.DateField(help_text="The last day of prices used")
    window_days = models.PositiveIntegerField(help_text="Daily returns asked for (trading days)")
    observations = models.PositiveIntegerField(help_text="Daily returns used")
    method = models.CharField(max_length=32, choices=Method.choices, default=Method.LEDOIT_WOLF)
    factor_count = models.PositiveSmallIntegerField()
    symbols = models.JSONField(help_text="The securities covered, in the estimate's order")
    estimate = models.JSONField(help_text='{"loadings": [[...]], "specific": [...]}, annual')
    inputs_digest = models.CharField(max_length=64, help_text="SHA-256 of the prices and settings estimated from")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Empty for the nightly refresh")

    class Meta:
        ordering = ["-as_of", "-id"]
        get_latest_by = ["as_of", "id"]
        constraints = [
            # The same prices estimated twice give the same version (the nightly refresh is idempotent).
            models.UniqueConstraint(fields=["inputs_digest"], name="risk_model_one_per_inputs"),
            models.CheckConstraint(condition=Q(observations__gt=0, factor_count__gt=0), name="risk_model_not_empty"),
        ]

    def __str__(self) -> str:
        return f"risk model #{self.pk} as of {self.as_of}"

    @property
    def security_count(self) -> int:
        return len(self.symbols)

    @property
    def label(self) -> str:
        """How pages name the version a proposal was tracked with."""
        return (f"#{self.pk} as of {self.as_of:%Y-%m-%d} ({self.observations} days, "
                f"{self.get_method_display()}, {self.security_count} securities)")

    def volatilities(self) -> list[tuple[str, float]]:
        """Each covered security's annual volatility under this version (the square root of its factor
        plus specific variance; the factors are uncorrelated with unit variance), riskiest first."""
        loadings, specific = self.estimate["loadings"], self.estimate["specific"]
        return sorted(((s, math.sqrt(sum(x * x for x in row) + sp))
                       for s, row, sp in zip(self.symbols, loadings, specific, strict=True)), key=lambda r: -r[1])

    def as_engine(self) -> engine.RiskModel:
        """The engine's form: unit-variance uncorrelated factors with these loadings."""
        k = self.factor_count
        loadings, specific = self.estimate["loadings"], self.estimate["specific"]
        return engine.RiskModel(
            factors=tuple(f"pc{j + 1}" for j in range(k)),
            loadings={s: tuple(row) for s, row in zip(self.symbols, loadings, strict=True)},
            factor_covariance=tuple(tuple(1.0 if a == b else 0.0 for b in range(k)) for a in range(k)),
            specific_variance=dict(zip(self.symbols, specific, strict=True)),
        )


class RiskModelEstimate(models.Model):
    """An estimate of the firm's risk model: asked for now (the Risk model page's Refresh now, the
    API's ``risk-models/estimate/``) and run by a worker, or the nightly refresh's
    (``services.risk_models``); pages and integrations follow it here until it names its outcome: a
    new version, the same version (the prices have not changed), or the error (e.g. too few days of
    prices) - so a night whose refresh failed is seen, not only logged."""

    class Origin(models.TextChoices):
        REQUEST = "request", "Asked for"
        NIGHTLY = "nightly", "Nightly refresh"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Estimating"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        NEW = "new", "A new version"
        UNCHANGED = "unchanged", "Unchanged: the same prices give the same version"

    UNDER_WAY = (Status.QUEUED, Status.RUNNING)

    as_of = models.DateField(help_text="Prices up to this day are estimated from")
    window_days = models.PositiveIntegerField(help_text="Daily returns asked for (trading days)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Who asked is ``created_by``; a nightly estimate has none, nor has one whose user was removed.
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.REQUEST)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True,
                               help_text="Once completed: a new version, or the existing one")
    version = models.ForeignKey(RiskModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="estimates")
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One estimate of the firm's risk model waiting or running at a time (per schema, so per
            # firm): a second request is answered with it (services.risk_models).
            models.UniqueConstraint(models.Value(True), condition=Q(status__in=["queued", "running"]),
                                    name="risk_model_estimate_one_under_way"),
            models.CheckConstraint(condition=Q(status="completed") & ~Q(outcome="") | ~Q(status="completed") & Q(outcome=""),
                                   name="risk_model_estimate_outcome_when_completed"),
        ]

    def __str__(self) -> str:
        return f"risk model estimate #{self.pk} ({self.status})"

    @property
    def under_way(self) -> bool:
        return self.status in self.UNDER_WAY

    @property
    def started_by_label(self) -> str:
        """Who started it, in words: the nightly refresh, the person, or a person since removed."""
        if self.origin == self.Origin.NIGHTLY:
            return "the nightly refresh"
        if self.created_by is None:
            return "a user since removed"
        return self.created_by.get_full_name() or self.created_by.username
