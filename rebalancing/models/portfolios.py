from django.conf import settings
from django.db import models
from django.db.models import Q

from .market import Benchmark, Security


class ModelPortfolio(models.Model):
    """A model portfolio. Its content lives in versions: editing creates a new version."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> "ModelVersion | None":
        return self.versions.order_by("-number").first()


class ModelVersion(models.Model):
    """One immutable version of a model: its sleeves and their holdings."""

    model = models.ForeignKey(ModelPortfolio, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="model_version_unique")]

    def __str__(self) -> str:
        return f"{self.model.code} v{self.number}"


class Sleeve(models.Model):
    """A sleeve of a model version: an asset class and its weight, held one of three ways."""

    class Kind(models.TextChoices):
        HOLDINGS = "holdings", "Funds or securities"
        DIRECT_INDEX = "direct_index", "Direct index of a benchmark"
        SUBMODEL = "submodel", "Another model (model of models)"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="sleeves")
    asset_class = models.CharField(max_length=64)
    weight = models.DecimalField(max_digits=9, decimal_places=8)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HOLDINGS)
    benchmark = models.ForeignKey(Benchmark, null=True, blank=True, on_delete=models.PROTECT)
    submodel = models.ForeignKey(
        ModelPortfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="used_as_submodel"
    )

    class Meta:
        ordering = ["version", "-weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "asset_class"], name="sleeve_asset_class_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0, weight__lte=1), name="sleeve_weight_0_1"),
            models.CheckConstraint(
                condition=~Q(kind="direct_index") | Q(benchmark__isnull=False), name="direct_index_has_benchmark"
            ),
            models.CheckConstraint(
                condition=~Q(kind="submodel") | Q(submodel__isnull=False), name="submodel_sleeve_has_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_class} {self.weight:.2%}"


class SleeveHolding(models.Model):
    """A fund or security held in a sleeve, with its weight within the sleeve."""

    sleeve = models.ForeignKey(Sleeve, on_delete=models.CASCADE, related_name="holdings")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(max_digits=9, decimal_places=8)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sleeve", "security"], name="sleeve_holding_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0, weight__lte=1), name="sleeve_holding_weight_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.security_id} {self.weight:.2%}"
