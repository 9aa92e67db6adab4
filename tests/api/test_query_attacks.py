"""Query parameters a careless integrator sends: a filter's bad value is refused naming the filter,
never dropped so that the list answers everything."""

import pytest

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["accounts/?taxable=maybe", "accounts/?discretionary=2", "securities/?is_fund=nope",
                                   "proposals/?requires_compliance=unknown", "alerts/?resolved=yes%20please"])
def test_a_yes_no_filter_that_is_neither_is_a_400_naming_it(firm_a, people, book, client_for, query):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/{query}")

    body = error_of(answer)
    name = query.split("?")[1].split("=")[0]
    assert answer.status_code == 400 and body["code"] == "invalid" and list(body["detail"]["fields"]) == [name]


@pytest.mark.parametrize(("value", "count"), [("true", 3), ("1", 3), ("yes", 3), ("TRUE", 3), ("false", 0),
                                              ("0", 0), ("no", 0), ("", 3)])
def test_a_yes_no_filter_reads_the_words_the_csv_files_do(firm_a, people, book, client_for, value, count):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/accounts/?taxable={value}")

    assert answer.status_code == 200 and answer.json()["count"] == count


@pytest.mark.parametrize("query", [
    "reports/realised-gains/?start=2026-01-01&end=2026-12-01&acount=T-000",
    "reports/harvest/?start=2026-01-01&end=2026-12-01&houshold=HH-T-000",
    "reports/transition/?as_of=2026-11-20&acount=T-000",
    "reports/schedule-d/?year=2026&houshold=HH-T-000",
    "reports/rmds/?as_off=2026-11-20",
    "order-files/?dya=2026-11-20",
])
def test_a_misspelt_parameter_of_a_report_is_a_400_naming_it_not_the_whole_books_report(
        firm_a, people, book, client_for, query):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/{query}")

    body = error_of(answer)
    misspelt = query.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert list(body["detail"]["fields"]) == [misspelt]


def test_a_report_still_takes_drfs_format_parameter(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).get(
        f"{API}/reports/realised-gains/?start=2026-01-01&end=2026-12-01&account=T-000&format=json")

    assert answer.status_code == 200 and answer.json()["start"] == "2026-01-01"


@pytest.mark.parametrize("query", [
    "proposals/?satus=approved", "accounts/?advisr=5", "orders/?sid=sell", "audit-events/?actor_knd=user",
    "accounts/1/?taxble=true",
    # lists without filters of their own
    "households/?advisor=5", "cash-flows/?household=1", "templates/?code=standard", "webhook-deliveries/?endpont=1",
])
def test_a_misspelt_filter_is_a_400_naming_it_not_the_whole_list(firm_a, people, book, client_for, query):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/{query}")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert list(body["detail"]["fields"]) == [query.split("?")[1].split("=")[0]]


def test_pages_and_format_are_not_filters_and_stay_allowed(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/proposals/?status=pending_approval&page=1&page_size=2&format=json")

    assert answer.status_code == 200 and answer.json()["count"] == 3 and len(answer.json()["results"]) == 2


@pytest.mark.parametrize("query", ["page_size=abc", "page_size=0", "page_size=-5", "page_size=1.5", "page=abc",
                                   "page=0", "page=-1", "page=99999999999999999999"])
def test_a_page_or_page_size_that_is_not_a_whole_number_from_1_is_a_400_naming_it(
        firm_a, people, book, client_for, query):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/accounts/?{query}")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert list(body["detail"]["fields"]) == [query.split("=")[0]]


def test_a_page_past_the_last_is_not_found_and_a_size_over_500_is_500(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    past = client.get(f"{API}/accounts/?page=99")
    big = client.get(f"{API}/accounts/?page_size=100000&page=last")

    assert past.status_code == 404 and error_of(past)["code"] == "not_found"
    assert big.status_code == 200 and big.json()["count"] == 3


def test_a_list_without_filters_takes_its_pages_and_its_own_parameters(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    households = client.get(f"{API}/households/?page=1&page_size=2&format=json")
    deliveries = client.get(f"{API}/webhook-deliveries/?endpoint=1")

    assert households.status_code == 200 and len(households.json()["results"]) == 2
    assert deliveries.status_code == 200 and deliveries.json()["count"] == 0


@pytest.mark.parametrize("path", ["proposals/", "proposals/{proposal}/", "order-files/",
                                  "reports/rmds/"])
def test_a_format_the_endpoint_does_not_answer_in_is_a_400_naming_it_and_the_formats(
        firm_a, people, book, client_for, path):
    # DRF's negotiation raised Http404 for it, which answered "No such object, or not one you may see."
    path = path.format(proposal=book["own_proposal"].pk)

    answer = client_for(firm_a, people["admin"]).get(f"{API}/{path}?format=xml")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    formats = "csv" if path == "order-files/" else "json, api"  # order files are CSV only
    assert body["detail"]["fields"] == {"format": [f"'xml' is not a format of this endpoint; the formats are {formats}."]}


def _values(choices) -> str:
    return ", ".join(str(value) for value, _ in choices)


@pytest.mark.parametrize(("query", "choices"), [
    ("proposals/?status=zzz", "Proposal.Status"),
    ("orders/?status=zzz", "Order.Status"),
    ("runs/?status=zzz", "RebalanceRun.Status"),
    ("runs/?kind=zzz", "RebalanceRun.Kind"),
    ("alerts/?kind=zzz", "Alert.Kind"),
    ("accounts/?tax_status=zzz", "Account.TaxStatus"),
    ("orders/?side=zzz", "buy, sell"),
    ("audit-events/?actor_kind=zzz", "AuditEvent.ActorKind"),
    ("order-files/?layout=zzz", "orders, blocks"),  # a query serializer's choice
    ("reports/rmds/?show=zzz", "owing, all, missing"),
])
def test_a_choice_parameter_given_something_else_names_it_and_the_values_there_are(
        firm_a, people, book, client_for, query, choices):
    from rebalancing import models
    from tenants.audit.models import AuditEvent

    if "." in choices:
        owner, enum = choices.split(".")
        choices = _values(getattr(AuditEvent if owner == "AuditEvent" else getattr(models, owner), enum).choices)
    name = query.split("?")[1].split("=")[0]

    answer = client_for(firm_a, people["admin"]).get(f"{API}/{query}")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert body["detail"]["fields"] == {name: [f"must be one of {choices}, not 'zzz'."]}


@pytest.mark.parametrize("query", ["proposals/?status=pending_approval", "orders/?status=open", "orders/?side=sell",
                                   "proposals/?status=", "order-files/?layout=blocks", "reports/rmds/?show=all"])
def test_a_choice_parameter_given_one_of_its_values_still_lists(firm_a, people, book, client_for, query):
    assert client_for(firm_a, people["admin"]).get(f"{API}/{query}").status_code == 200
