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
