"""The ledger's stored codes in the pages' words."""

from django import template

register = template.Library()

# A recalculated sale's figures (``WashSaleRecalculation.changes[*]["field"]``: the ``RealisedLot``
# fields ``rebalancing.ledger`` compares, and "term") as the realised report names them: one place,
# so "disallowed_permanently" reads as the "lost for good" of the report's columns.
SALE_FIGURE_WORDS = {
    "quantity": "shares sold",
    "cost_basis": "cost basis",
    "gain": "gain or loss before the wash-sale adjustment",
    "disallowed_loss": "disallowed loss",
    "disallowed_permanently": "lost for good",
    "term": "term",
}


@register.filter
def sale_figure_words(field: str) -> str:
    """A recalculated sale's figure in words; a code not known here with its underscores as spaces."""
    return SALE_FIGURE_WORDS.get(field, str(field).replace("_", " "))
