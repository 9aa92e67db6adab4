from django.shortcuts import render

from frontend.selectors import dashboard_counts
from tenants.roles import FirmRole
from tenants.selectors import user_roles

from .common import SIGNED_IN, firm_page


@firm_page(SIGNED_IN)
def firm_home(request):
    """The dashboard: what needs a person's attention today, with counts and links."""
    roles = user_roles(request.user, FirmRole)
    counts = dashboard_counts(request.user) if roles else None
    return render(request, "frontend/dashboard.html", {"roles": roles, "counts": counts})
