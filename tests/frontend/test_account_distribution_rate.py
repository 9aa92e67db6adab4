"""A traditional IRA's page says what its distributions are taxed at: its short-term rate, the owner's
ordinary rate without the 3.8% NIIT (an IRA distribution is not net investment income, IRC §1411(c)(5));
a taxable account's page does not (its rates are its return's, on the household page)."""

import re
from decimal import Decimal

import pytest

from rebalancing.models import Account

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_an_iras_page_shows_the_rate_its_distributions_are_taxed_at_and_that_it_has_no_niit(book, as_user):
    # Given one of the advisor's accounts made a traditional IRA at 37%
    account = book["mine"][0]
    Account.objects.filter(pk=account.pk).update(tax_status=Account.TaxStatus.TRADITIONAL,
                                                 short_term_rate=Decimal("0.37"))
    # When its page is read
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # Then it names the rate, ordinary income, without the NIIT, and where it is set
    assert "Distributions taxed at (ordinary income)</dt><dd>37.0%" in page
    assert "without the 3.8% NIIT: an IRA distribution is not net investment income (IRC §1411(c)(5))" in page
    assert "short_term_rate in the accounts file" in page


def test_a_taxable_accounts_page_names_no_distribution_rate(book, as_user):
    account = book["mine"][0]
    Account.objects.filter(pk=account.pk).update(tax_status=Account.TaxStatus.TAXABLE)
    assert "Distributions taxed at" not in text(as_user("advisor").get(f"/accounts/{account.pk}/"))
