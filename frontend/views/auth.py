"""Signing in and out: open to everyone, on firm hosts and the provider's host alike."""

from django.contrib import messages
from django.contrib.auth.views import LoginView, LogoutView, PasswordResetConfirmView
from django.urls import reverse_lazy

from .common import PUBLIC


class SignInView(LoginView):
    page_access = PUBLIC
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class SignOutView(LogoutView):
    page_access = PUBLIC


class ChoosePasswordView(PasswordResetConfirmView):
    """An invited user chooses their password from the one-time link e-mailed to them
    (rebalancing.services.people.user_invite); the link stops working once it is used."""

    page_access = PUBLIC
    template_name = "registration/set_password.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set: sign in with your e-mail address.")
        return response
