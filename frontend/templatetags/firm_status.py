"""What a suspended firm's buttons say: the pages stay readable, and a button whose work the
suspension refuses (``tenants.selectors.firm_active_check``: a run, an instruction, a proposal edit,
a release, a withdrawal) is disabled with the reason, instead of failing once clicked."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def refused_while_suspended(context) -> str:
    """`` disabled title="..."`` on the firm's pages while its provider has suspended it, else ""."""
    firm = context.get("firm")
    suspension = getattr(firm, "suspension", "") if firm is not None else ""
    if not suspension:
        return ""
    return format_html(' disabled aria-disabled="true" title="{}. Nothing trades until it is reactivated."',
                       suspension)
