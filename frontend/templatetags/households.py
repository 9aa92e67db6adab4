"""The household settings block of a template's page (an inclusion tag: the block brings its own figures)."""

from django import template

from rebalancing.engine import TAX_STATUSES
from rebalancing.models import Sleeve

register = template.Library()


@register.inclusion_tag("frontend/partials/template_household.html")
def template_household_settings(parameter_template, can_manage: bool):
    """Each asset class of the firm's models with the tax status the template places it in first."""
    location = (parameter_template.household_parameters or {}).get("location") or {}
    classes = sorted(set(Sleeve.objects.exclude(kind=Sleeve.Kind.SUBMODEL).values_list("asset_class", flat=True)))
    return {"template": parameter_template, "can_manage": can_manage, "tax_statuses": TAX_STATUSES,
            "template_location_rows": [(c, (location.get(c) or [""])[0]) for c in classes]}
