"""The attack suite reuses the page tests' firm book (people of every role, accounts, proposals)."""

from tests.frontend.conftest import as_user, book, people  # noqa: F401
