"""Removing an asset class on a model's page offers to rescale the other sleeves pro rata, so the
user need not recompute every weight: the new version's weights sum to exactly 100%, rounded to the
precision they were typed in (basis points at least), the units the rounding leaves going to the
largest remainders; the message names the new weights."""

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from django_tenants.utils import tenant_context

from frontend.views.book import weights_rescaled
from rebalancing.models import ModelPortfolio

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _plain_rescale(percents: list[str], places: int) -> list[Fraction]:
    """A second implementation, in exact fractions: shares rounded down, then one unit at a time to
    the sleeve furthest below its exact share (the first of equals)."""
    unit = Fraction(1, 10**places)
    exact = [Fraction(p) * 100 / sum(Fraction(p) for p in percents) for p in percents]
    out = [(e // unit) * unit for e in exact]
    while sum(out) < 100:
        gaps = [e - o for e, o in zip(exact, out, strict=True)]
        i = gaps.index(max(gaps))
        out[i] += unit
    return out


@pytest.mark.parametrize(("percents", "places"), [
    (["33.33", "33.34"], 2),  # 33.33/33.33/33.34 with a 33.33 removed
    (["33.33", "33.33"], 2),  # ... with the 33.34 removed
    (["14.29"] * 6, 2),  # 7 sleeves of 14.29 (and one of 14.26) with the 14.26 removed
    (["14.29", "14.29", "14.29", "14.29", "14.29", "14.26"], 2),  # ... with a 14.29 removed
    (["60", "30"], 2),
    (["12.5", "7.125", "3.3333", "41"], 4),
])
def test_rescaled_weights_sum_to_exactly_100_and_match_a_plain_rescale(percents, places):
    got = weights_rescaled([Decimal(p) for p in percents], places)

    assert sum(got) == 100
    assert [Fraction(g) for g in got] == _plain_rescale(percents, places)
    assert all(g == g.quantize(Decimal(1).scaleb(-places)) for g in got)


def test_worked_examples():
    assert weights_rescaled([Decimal("33.33"), Decimal("33.34")], 2) == [Decimal("49.99"), Decimal("50.01")]
    assert weights_rescaled([Decimal("14.29")] * 6, 2) == [Decimal("16.67")] * 4 + [Decimal("16.66")] * 2


def _form(rows, removed=None, rescale=True) -> dict:
    form = {"rows": str(len(rows)), "note": ""}
    for i, (asset_class, weight, holdings) in enumerate(rows):
        form.update({f"s{i}-asset_class": asset_class, f"s{i}-weight": weight, f"s{i}-kind": "holdings",
                     f"s{i}-holdings": holdings})
    if removed is not None:
        form[f"s{removed}-remove"] = "1"
    if rescale:
        form["rescale"] = "1"
    return form


def _weights(firm_a, model) -> dict[str, Decimal]:
    with tenant_context(firm_a):
        version = ModelPortfolio.objects.get(pk=model.pk).current_version
        return {s.asset_class: s.weight for s in version.sleeves.all()}


ROWS = [("us_equity", "33.33", "VTI 80, XLE 20"), ("bonds", "33.33", "BND 100"), ("real_estate", "33.34", "VNQ 100")]


def test_removing_a_sleeve_with_rescale_saves_weights_summing_to_exactly_100(book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]
    assert client.post(f"/models/{model.pk}/", _form(ROWS)).status_code == 302  # version 2: 33.33/33.33/33.34

    response = client.post(f"/models/{model.pk}/", _form(ROWS, removed=1), follow=True)

    assert ("Version 3 of Balanced saved; the next run uses it. bonds removed; the rest rescaled pro rata to sum to "
            "100%: us_equity 49.99%, real_estate 50.01%.") in text(response)
    weights = _weights(firm_a, model)
    assert weights == {"us_equity": Decimal("0.4999"), "real_estate": Decimal("0.5001")}
    assert sum(weights.values()) == 1


def test_the_page_ticks_the_rescale_and_unticked_the_sum_is_named_as_before(book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]
    page = text(client.get(f"/models/{model.pk}/"))
    assert 'name="rescale" value="1" checked' in page

    refused = client.post(f"/models/{model.pk}/", _form(ROWS, removed=2, rescale=False))

    assert refused.status_code == 400 and "sleeve weights sum to 66.66%, not 100%" in text(refused)
    assert 'name="rescale" value="1" >' in text(refused)  # unticked as posted
    assert _weights(firm_a, model) == {"us_equity": Decimal("0.6"), "bonds": Decimal("0.3"),
                                       "real_estate": Decimal("0.1")}


def test_the_preview_rescales_as_the_save_would(book, as_user):
    rows = [("us_equity", "60", "VTI 80, XLE 20"), ("bonds", "30", "BND 100"), ("real_estate", "10", "VNQ 100")]
    preview = text(as_user("admin").post(f"/models/{book['model'].pk}/preview/", _form(rows, removed=2)))
    assert "not 100%" not in preview and "sampled accounts would trade differently" in preview
