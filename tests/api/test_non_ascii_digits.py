"""Numbers are written with the digits 0-9. Python's int(), float() and Decimal() (and so DRF's and
Django's number fields, and a str regex's \\d) also read other scripts' digits: "٣" (Arabic-Indic) and
"３" (fullwidth) were taken as 3 without a word in API bodies, query filters, CSV cells and page forms.
Each is now refused naming the field and the character (``config.input_limits.numeral_problem``)."""

import random
import re
import sys
import unicodedata
from decimal import Decimal

import pytest
from django.core.exceptions import BadRequest
from django.http import QueryDict
from django_tenants.utils import tenant_context

from config.input_limits import numeral_problem
from frontend.query import decimal_param
from rebalancing.imports import ImportRejected, book_import
from rebalancing.imports.cells import CellProblem, parse_date, parse_decimal
from rebalancing.models import Price, RebalanceRun

from .conftest import API, error_of, key_client

# Every decimal digit of every script but ASCII's (Unicode category Nd): 0-9 each has some 60 twins.
OTHER_DIGITS = [c for c in map(chr, range(sys.maxunicode + 1))
                if unicodedata.category(c) == "Nd" and not c.isascii()]


def _in_other_digits(text: str, rng: random.Random) -> str:
    """``text`` with at least one of its ASCII digits written in another script (same value)."""
    chars = list(text)
    places = [i for i, c in enumerate(chars) if c.isdigit()]
    for i in rng.sample(places, rng.randint(1, len(places))):
        chars[i] = rng.choice([d for d in OTHER_DIGITS if unicodedata.decimal(d) == int(chars[i])])
    return "".join(chars)


def test_python_reads_other_scripts_digits_which_is_why_the_check_exists():
    assert int("٣") == 3 and Decimal("３") == 3 and re.fullmatch(r"\d", "٣")


def test_every_number_reader_refuses_a_number_with_another_scripts_digit_and_reads_it_in_0_9_over_random_numbers():
    rng = random.Random(4)
    for _ in range(300):
        number = f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"
        other = _in_other_digits(number, rng)
        # the plain rule: text with a character outside ASCII is no number
        assert numeral_problem(other) and not numeral_problem(number)
        with pytest.raises(CellProblem, match=r"is a digit outside 0-9"):
            parse_decimal(other)
        with pytest.raises(BadRequest, match=r"is a digit outside 0-9"):
            decimal_param(QueryDict(f"amount={other}"), "amount")
        # while the same number in 0-9 reads as itself
        assert parse_decimal(number) == Decimal(number) == decimal_param(QueryDict(f"amount={number}"), "amount")


@pytest.mark.parametrize("day", ["٢٠٢٦-١١-٢٠", "２０２６-１１-２０", "11/20/٢٠٢٦"])
def test_a_csv_date_in_other_digits_is_refused(day):
    with pytest.raises(CellProblem, match=r"is not a date: “.” \(U\+[0-9A-F]{4}\) is a digit outside 0-9"):
        parse_date(day)


@pytest.mark.django_db
def test_a_prices_file_with_an_arabic_indic_close_is_refused_naming_the_column_and_writes_nothing(firm_a):
    from tests.rebalancing.book import make_securities

    with tenant_context(firm_a):
        make_securities()
        before = Price.objects.count()
        with pytest.raises(ImportRejected) as refused:
            book_import(kind="prices", source=b"symbol,date,close\nVTI,2026-11-20,\xd9\xa1\xd9\xa2\xd9\xa3\n")
        assert Price.objects.count() == before
    [problem] = refused.value.detail["problems"]
    assert problem["column"] == "close" and "U+0661" in problem["problem"]


@pytest.fixture
def pm_client(firm_a, people, api_key):
    return key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"scope": {"account_ids": ["٣"]}}, "account_ids"),
    ({"scope": {"household_id": "３"}}, "household_id"),
    ({"scope": {"firm": True, "min_drift": "٠.٥"}}, "min_drift"),
    ({"scope": {"firm": True}, "as_of": "٢٠٢٦-١١-٢٠"}, "as_of"),
])
def test_an_api_body_with_another_scripts_digits_is_a_400_naming_the_field_and_starts_nothing(
        firm_a, book, pm_client, body, field):
    with tenant_context(firm_a):
        before = RebalanceRun.objects.count()

    refused = pm_client.post(f"{API}/runs/", body, content_type="application/json")

    assert refused.status_code == 400, refused.content
    assert field in str(error_of(refused)) and "is a digit outside 0-9" in str(error_of(refused))
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["advisor=٣", "advisor=３"])
def test_a_query_filter_with_another_scripts_digits_is_a_400_naming_it(firm_a, book, pm_client, query):
    refused = pm_client.get(f"{API}/accounts/?{query}")

    assert refused.status_code == 400, refused.content
    assert "advisor" in str(error_of(refused)) and "is a digit outside 0-9" in str(error_of(refused))


@pytest.mark.django_db
def test_a_webhook_deliveries_filter_in_other_digits_is_refused(firm_a, people, api_key):
    client = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read", "admin"]))

    refused = client.get(f"{API}/webhook-deliveries/?endpoint=٣")

    assert refused.status_code == 400 and error_of(refused)["detail"] == {"field": "endpoint"}
