from django.db import models


class ParameterTemplate(models.Model):
    """A named set of parameters a firm admin defines once; households and accounts inherit it.

    ``parameters`` is a partial engine parameter dict (rebalancing.engine.PARAMETERS_SCHEMA).
    ``overridable`` says which leaves a household or account may change and within what limits:
    ``{"cash.target": {"min": 0, "max": 0.05}, "harvest.enabled": {}, "trading.lot_selection":
    {"choices": ["tax_optimal", "fifo"]}}``. A leaf not listed cannot be overridden. Household
    settings are listed the same way under ``household.`` (``{"household.tax_budget": {"max": 20000}}``).
    """

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    overridable = models.JSONField(default=dict, blank=True)
    household_parameters = models.JSONField(
        default=dict, blank=True,
        help_text='Household settings (rebalancing.household_parameters): {"tax_budget": 5000, "location": {...}}',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
