"""Signing in and out: open to everyone, on firm hosts and the provider's host alike."""

from django.contrib.auth.views import LoginView, LogoutView

from .common import PUBLIC


class SignInView(LoginView):
    page_access = PUBLIC
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class SignOutView(LogoutView):
    page_access = PUBLIC
