"""A person as a choice offers them: two people of the same name ("Dana New", twice) are told apart
by their e-mail (or, without one, their username), which every person of a firm has and no two share."""

from django import template

register = template.Library()


@register.filter
def person_choice(user) -> str:
    """"Dana New (dana.new@acme.example)"; a person without a name by their e-mail or username alone."""
    if user is None:
        return ""
    handle = getattr(user, "email", "") or user.get_username()
    name = user.get_full_name().strip()
    return f"{name} ({handle})" if name and name != handle else handle
