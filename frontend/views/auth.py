from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from tenants.roles import FirmRole, ProviderRole
from tenants.selectors import firm_list_for_console, user_roles


class SignInView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def firm_home(request):
    roles = user_roles(request.user, FirmRole)
    return render(request, "frontend/firm_home.html", {"roles": roles})


@login_required
def provider_console(request):
    roles = user_roles(request.user, ProviderRole)
    if not roles and not request.user.is_superuser:
        raise PermissionDenied("The provider console is for provider staff.")
    return render(request, "frontend/provider_console.html", {"roles": roles, "firms": firm_list_for_console()})
