from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from .market import Benchmark
from .portfolios import ModelPortfolio
from .runs import DocumentField
from .templates import ParameterTemplate


class Backtest(models.Model):
    """What harvesting would have saved: a template's engine replayed on history beside
    buy-and-hold and a naive harvester (rebalancing.backtest), run by a Celery worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Basket(models.TextChoices):
        SAMPLE = "sample", "20 S&P 500 stocks, equal weight"
        MODEL = "model", "A model's holdings"
        BENCHMARK = "benchmark", "A benchmark's constituents"

    class Prices(models.TextChoices):
        SAMPLE = "sample", "Bundled real prices (20 S&P 500 stocks, 1990-2022)"
        FIRM = "firm", "This firm's prices"

    # The most money a backtest replays (the form's, the API's and the service's limit; the pure
    # backtest refuses 10^12 and more).
    AMOUNT_MAX = Decimal("100000000000")

    class Losses(models.TextChoices):
        OFFSET = "offset", "Offset gains elsewhere in the household"
        CARRY_FORWARD = "carry_forward", "Carried forward ($3,000 a year against income)"

    name = models.CharField(max_length=200)
    template = models.ForeignKey(ParameterTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    parameters = models.JSONField(default=dict, help_text="The engine parameters replayed (harvesting on)")
    basket = models.CharField(max_length=16, choices=Basket.choices, default=Basket.SAMPLE)
    model = models.ForeignKey(ModelPortfolio, null=True, blank=True, on_delete=models.SET_NULL)
    benchmark = models.ForeignKey(Benchmark, null=True, blank=True, on_delete=models.SET_NULL)
    weights = models.JSONField(default=dict, help_text="The starting basket: symbol -> weight")
    prices = models.CharField(max_length=16, choices=Prices.choices, default=Prices.SAMPLE)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    start = models.DateField(help_text="The basket is bought at this day's close (the last trading day before it)")
    years = models.PositiveSmallIntegerField(help_text="Holding period of each cohort")
    cohorts = models.PositiveSmallIntegerField(default=1, help_text="Yearly start dates from the first")
    short_term_rate = models.DecimalField(max_digits=6, decimal_places=4)
    long_term_rate = models.DecimalField(max_digits=6, decimal_places=4)
    losses = models.CharField(max_length=16, choices=Losses.choices, default=Losses.OFFSET)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    done = models.PositiveSmallIntegerField(default=0, help_text="Cohorts replayed so far")
    error = models.TextField(blank=True)
    report = DocumentField(null=True, blank=True, help_text="rebalancing.backtest.report.report_dict")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # When its message was last sent to a worker, and how many times the watch sent it again
    # (services.backtests.backtests_watch): a lost message, or a worker lost mid-way, is not for ever.
    sent_at = models.DateTimeField(null=True, blank=True)
    resends = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="backtest_amount_positive"),
            models.CheckConstraint(
                condition=Q(short_term_rate__gte=0, short_term_rate__lte=1, long_term_rate__gte=0, long_term_rate__lte=1),
                name="backtest_rates_0_1",
            ),
            models.CheckConstraint(condition=Q(years__gte=1, years__lte=40), name="backtest_years_1_40"),
            models.CheckConstraint(condition=Q(cohorts__gte=1, cohorts__lte=30), name="backtest_cohorts_1_30"),
            models.CheckConstraint(condition=~Q(basket="model") | Q(model__isnull=False), name="backtest_model_basket"),
            models.CheckConstraint(
                condition=~Q(basket="benchmark") | Q(benchmark__isnull=False), name="backtest_benchmark_basket"
            ),
        ]

    def __str__(self) -> str:
        return f"backtest {self.pk} ({self.name})"

    @property
    def progress(self) -> float:
        return 1.0 if self.status == self.Status.COMPLETED else self.done / max(self.cohorts, 1)
