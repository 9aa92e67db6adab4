"""Error pages that say what was wrong (config/urls.py and urls_public.py name them)."""

from django.core.exceptions import BadRequest
from django.shortcuts import render


def bad_request(request, exception=None):
    """400. A ``BadRequest`` raised by a page carries a message for the person (which parameter, what
    it must be); other causes (a malformed request Django refused) get a plain one."""
    message = str(exception) if isinstance(exception, BadRequest) and str(exception) else ""
    return render(request, "400.html", {"message": message}, status=400)
