"""The household settings block of a template's page (an inclusion tag: the block brings its own figures)."""

from decimal import Decimal

from django import template

from frontend.parameter_forms import HOUSEHOLD_FIELDS
from rebalancing.effective_parameters import override_limits
from rebalancing.engine import TAX_STATUSES
from rebalancing.household_parameters import HOUSEHOLD_DEFAULTS, INSIDE_BANDS_CHOICES
from rebalancing.models import Sleeve

register = template.Library()


@register.inclusion_tag("frontend/partials/template_household.html")
def template_household_settings(parameter_template, can_manage: bool, kept=None):
    """Each asset class of the firm's models with the tax status the template places it in first,
    and how its households are rebalanced inside their drift bands; ``kept``: the form as typed
    when it was just refused (``keep_posted``), shown in place of the stored settings."""
    own = parameter_template.household_parameters or {}
    location = own.get("location") or {}
    classes = sorted(set(Sleeve.objects.exclude(kind=Sleeve.Kind.SUBMODEL).values_list("asset_class", flat=True)))
    default = HOUSEHOLD_DEFAULTS["inside_bands"]
    refused = kept if kept is not None and kept.refusal else None
    if refused is not None:
        location = {c: [refused.get(f"location:{c}", "")] for c in classes}
    # Which of them a household may change, in the words of the template's override table.
    changeable = [f.label.lower() for f in HOUSEHOLD_FIELDS
                  if override_limits(f.path, parameter_template.overridable or {}) is not None]
    return {"template": parameter_template, "can_manage": can_manage, "tax_statuses": TAX_STATUSES, "kept": refused,
            "household_changeable": _and_list(changeable),
            "shown_budget": refused.get("tax_budget", "") if refused is not None else (
                "" if own.get("tax_budget") is None else format(Decimal(str(own["tax_budget"])).normalize(), "f")),
            "shown_inside_bands": refused.get("inside_bands", "") if refused is not None else own.get("inside_bands"),
            "template_location_rows": [(c, (location.get(c) or [""])[0]) for c in classes],
            "inside_bands_choices": INSIDE_BANDS_CHOICES.items(), "default_inside_bands": INSIDE_BANDS_CHOICES[default],
            "template_inside_bands": INSIDE_BANDS_CHOICES.get(own.get("inside_bands", default), INSIDE_BANDS_CHOICES[default])}


def _and_list(words: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
