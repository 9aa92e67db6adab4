"""Messages that name a field put "an" before a vowel: "must name an advisor", not "a advisor"."""

import pytest
from django.core.exceptions import BadRequest
from django.http import QueryDict

from frontend.query import a_or_an, id_param, ids_param
from tenants.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_a_or_an_follows_the_first_letter():
    assert [a_or_an(w) for w in ("advisor", "model", "account", "template", "owner")] == [
        "an advisor", "a model", "an account", "a template", "an owner"]


def test_a_or_an_follows_the_sound_where_the_letter_misleads():
    assert [a_or_an(w) for w in ("user", "unit", "unknown", "hour", "household")] == [
        "a user", "a unit", "an unknown", "an hour", "a household"]


def test_a_person_chosen_on_the_people_page_that_is_no_number_is_named_as_a_person_not_a_filter(book, as_user):
    """The people page's row forms choose a person (``user``): a value that is no number is said as such,
    not as "the user filter" nor "an user"."""
    response = as_user("admin").post("/people/", {"action": "deactivate", "user": "abc"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose a person from the list: “abc” is not the number of one." in page
    assert "filter" not in page.split("<main", 1)[-1].split("</main>", 1)[0].lower() and "an user" not in page


def test_a_bad_advisor_filter_says_an_advisor(book, as_user):
    response = as_user("admin").get("/accounts/?advisor=abc")
    assert response.status_code == 400
    assert "The advisor filter must name an advisor from the list" in response.content.decode()


def test_the_id_messages_put_an_before_a_vowel():
    with pytest.raises(BadRequest, match="must name an account from the list"):
        id_param(QueryDict("account=x"), "account", in_filter=True)
    with pytest.raises(BadRequest, match="^Choose an account from the list: “x” is not the number of one[.]$"):
        id_param(QueryDict("account=x"), "account")
    with pytest.raises(BadRequest, match="is not the number of an advisor[.]"):
        ids_param(QueryDict("advisors=x"), "advisors")


def test_an_advisor_chosen_for_a_whole_firm_run_is_refused_with_an(book, as_user, people):
    from frontend.views.runs import scope_from_form

    with pytest.raises(ValidationFailed, match="^An advisor is chosen but the run is for the whole firm"):
        scope_from_form(QueryDict(f"scope=firm&advisor={people['advisor'].pk}"))


def test_an_unknown_advisor_in_the_assign_form_is_refused_with_an(firm_a, book, as_user):
    answer = as_user("admin").post("/accounts/assign/", {"apply_to": "households", "set_advisor": 999999})
    assert answer.status_code == 400 and "Choose an advisor from the list." in answer.content.decode()


def test_an_unknown_column_names_the_files_columns_without_a_wrong_article(firm_a, book, as_user):
    import io

    upload = io.BytesIO(b"account_number,household_id,wrong\nX-1,HH-1,1\n")
    upload.name = "accounts.csv"
    page = as_user("admin").post("/import/", {"kind": "accounts", "file": upload}).content.decode()
    assert "unknown column; the columns of the accounts file are" in page
    assert "of a accounts file" not in page


def test_a_backtest_beyond_the_prices_says_a_run_of_8_years_not_a_8_year_run():
    from datetime import date

    from rebalancing.backtest import BacktestConfig, BacktestError, load_sample, run_backtest

    with pytest.raises(BacktestError, match="; a run of 8 years from 2016-06-30 needs"):
        run_backtest(BacktestConfig({"XOM": 1.0}, (date(2016, 6, 30),), years=8), load_sample())
