"""The security master as a firm sees it: every security with its asset class, tags, wash-sale
group, harvest substitute and latest price; searched and filtered, a page at a time (its changes
come through imports and the equivalents and substitutes pages)."""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import render

from rebalancing.api.visibility import book_wide_visible_to
from rebalancing.models import Price, Security
from tenants.permissions import Capability

from .common import firm_page, paginate

SECURITIES_PER_PAGE = 50


@firm_page(Capability.VIEW_BOOK)
def security_list(request):
    q = request.GET.get("q", "").strip()
    asset_class = request.GET.get("asset_class", "").strip()
    securities = book_wide_visible_to(request.user, Security.objects.select_related("harvest_substitute"))
    asset_classes = sorted(set(securities.values_list("asset_class", flat=True)))
    if q:
        securities = securities.filter(Q(symbol__icontains=q) | Q(name__icontains=q))
    if asset_class:
        securities = securities.filter(asset_class=asset_class)
    latest = Price.objects.filter(security=OuterRef("pk")).order_by("-date")
    securities = securities.annotate(last_close=Subquery(latest.values("close")[:1]),
                                     last_date=Subquery(latest.values("date")[:1])).order_by("symbol")
    return render(request, "frontend/security_list.html", {
        "page": paginate(request, securities, per_page=SECURITIES_PER_PAGE), "q": q,
        "asset_class": asset_class, "asset_classes": asset_classes,
    })
