from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Security(models.Model):
    """A security or fund in the firm's master: what it is, and how screens and wash sales see it."""

    symbol = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=64, db_index=True)
    sector = models.CharField(max_length=64, blank=True)
    is_fund = models.BooleanField(default=False)
    tags = models.JSONField(default=list, blank=True, help_text='Values tags, e.g. ["fossil_fuels", "tobacco"]')
    esg_score = models.FloatField(null=True, blank=True)
    fractional = models.BooleanField(default=False, help_text="Fractional shares may be traded")
    # Securities sharing a group are "substantially identical" for wash sales (IRS Pub. 550).
    equivalence_group = models.CharField(max_length=64, blank=True, db_index=True)
    # The firm-wide harvest substitute: bought while this security is wash-blocked after a loss
    # sale (every account's default ``harvest.substitutes``; a template's or account's own wins).
    harvest_substitute = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="substitute_for")

    class Meta:
        ordering = ["symbol"]
        verbose_name_plural = "securities"
        constraints = [
            models.CheckConstraint(condition=~Q(symbol=""), name="security_symbol_not_empty"),
            models.CheckConstraint(
                condition=Q(esg_score__isnull=True) | Q(esg_score__gte=0, esg_score__lte=100),
                name="security_esg_score_0_100",
            ),
            models.CheckConstraint(condition=~Q(harvest_substitute=F("pk")), name="security_substitute_not_itself"),
        ]

    def __str__(self) -> str:
        return self.symbol

    def substantially_identical_to(self, other: Security) -> bool:
        """The same security or one of its equivalence group: buying it within 30 days of a loss sale
        makes the loss a wash sale (IRS Pub. 550; Treas. Reg. §1.1091-1)."""
        return self.symbol == other.symbol or bool(self.equivalence_group) and (
            self.equivalence_group == other.equivalence_group)

    def clean(self) -> None:
        substitute = self.harvest_substitute
        if substitute is not None and self.substantially_identical_to(substitute):
            raise ValidationError({"harvest_substitute": f"{substitute} is substantially identical to {self.symbol}: "
                                                         f"buying it after a loss sale is a wash sale."})


class PriceQuerySet(models.QuerySet):
    def latest_on(self, as_of):
        """Each security's latest close on or before ``as_of`` (one row per security): the one
        home of "the price of a security on a day", for runs, previews, pages and reports."""
        return self.filter(date__lte=as_of).order_by("security_id", "-date").distinct("security_id")


class Price(models.Model):
    """Closing price of a security on a date."""

    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="prices")
    date = models.DateField()
    close = models.DecimalField(max_digits=18, decimal_places=6)

    objects = PriceQuerySet.as_manager()

    class Meta:
        ordering = ["security", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["security", "date"], name="price_one_per_security_per_day"),
            models.CheckConstraint(condition=Q(close__gt=0), name="price_positive"),
        ]
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.security_id} {self.date} {self.close}"


class Benchmark(models.Model):
    """An index a direct-indexed sleeve tracks (e.g. the S&P 500)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class BenchmarkWeight(models.Model):
    """Constituent weight of a benchmark as of a date (weights of one date sum to 1)."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="weights")
    date = models.DateField()
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(max_digits=12, decimal_places=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "date", "security"], name="benchmark_weight_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0, weight__lte=1), name="benchmark_weight_0_1"),
        ]
        indexes = [models.Index(fields=["benchmark", "date"])]

    def __str__(self) -> str:
        return f"{self.benchmark_id} {self.date} {self.security_id} {self.weight}"
