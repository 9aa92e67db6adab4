"""A list's status filter typed by hand as something it does not have is named (400), not quietly
shown as another list: ``/proposals/?status=bogus`` showed the approved proposals as if asked."""

import re

import pytest

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize(("path", "choices"), [
    ("/proposals/", "pending, approved, released, executed"),
    ("/ledger/orders/", "open, filled, cancelled"),
])
def test_an_unknown_status_is_refused_naming_it_and_the_ones_there_are(book, as_user, path, choices):
    response = as_user("admin").get(path, {"status": "bogus"})

    assert response.status_code == 400
    assert f"The status filter must be one of {choices}, not “bogus”." in text(response)


@pytest.mark.parametrize("path", ["/proposals/?status=released", "/proposals/", "/ledger/orders/?status=open",
                                  "/ledger/orders/?status="])
def test_the_statuses_the_pages_offer_still_list(book, as_user, path):
    assert as_user("admin").get(path).status_code == 200
