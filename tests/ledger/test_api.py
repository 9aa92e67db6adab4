"""The ledger over the API: executions in (JSON and CSV), order files, reconciliations, reports."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Execution, TaxLot
from rebalancing.services.people import advisor_assign
from tenants.roles import FirmRole

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def sale(book, pm):
    [order] = release(book["account"], [sell("VTI", 120, 100.0, [("A-1-L2", 50), ("A-1-L1", 70)])], pm=pm,
                      as_of=date(2026, 11, 18))
    return order


def test_executions_posted_as_json_are_applied_once(firm_a, client_for, pm, sale):
    client = client_for(firm_a, pm)
    body = {"executions": [fill("X-1", sale, "120", "100", date(2026, 11, 18))], "as_of": "2026-11-20"}

    first = client.post(f"{API}/executions/", body, content_type="application/json")
    again = client.post(f"{API}/executions/", body, content_type="application/json")
    listed = client.get(f"{API}/executions/")

    assert first.status_code == 201 and first.json()["created"] == 1
    assert again.status_code == 201 and (again.json()["created"], again.json()["unchanged"]) == (0, 1)
    assert [e["external_id"] for e in listed.json()["results"]] == ["X-1"]


def test_a_refused_execution_file_answers_400_with_the_row_report(firm_a, client_for, pm, sale):
    client = client_for(firm_a, pm)
    upload = SimpleUploadedFile("fills.csv", execution_csv(fill("X-1", sale, 500, "100", date(2026, 11, 18))),
                                content_type="text/csv")

    answer = client.post(f"{API}/executions/", {"file": upload, "as_of": "2026-11-20"})

    assert answer.status_code == 400 and answer.json()["code"] == "import_rejected"
    assert answer.json()["detail"]["problems"][0]["column"] == "quantity"
    with tenant_context(firm_a):
        assert not Execution.objects.exists()


def test_an_advisor_may_not_apply_executions_and_sees_only_their_orders(firm_a, firm_user, client_for, book, pm, sale):
    advisor = firm_user(firm_a, "adv@ledger.example", FirmRole.ADVISOR)
    admin = firm_user(firm_a, "admin@ledger.example", FirmRole.FIRM_ADMIN)
    with tenant_context(firm_a):
        own = make_account("A-OWN", model=book["model"], holdings=[("VTI", 5, 400, date(2020, 1, 2))])
        advisor_assign(household=own.household, advisor=advisor, by=admin)
        release(own, [sell("VTI", 5, 100.0, [("A-OWN-L1", 5)])], pm=pm)
    client = client_for(firm_a, advisor)

    posted = client.post(f"{API}/executions/", {"executions": [fill("X-1", sale, "1", "100", date(2026, 11, 18))]},
                         content_type="application/json")
    exported = client.get(f"{API}/order-files/")

    assert posted.status_code == 403
    assert "A-OWN" in exported.content.decode() and sale.order_id not in exported.content.decode()


def test_order_files_come_per_account_and_per_block(firm_a, client_for, pm, sale):
    client = client_for(firm_a, pm)

    per_order = client.get(f"{API}/order-files/")
    blocks = client.get(f"{API}/order-files/", {"layout": "blocks"})

    assert per_order["Content-Type"].startswith("text/csv")
    assert per_order.content.decode().splitlines()[1].startswith(f"{sale.order_id},B20261118-SELL-VTI,A-1,VTI,sell,120")
    assert blocks.content.decode().splitlines()[1].startswith("B20261118-SELL-VTI,VTI,sell,120,100,")


def test_a_reconciliation_is_posted_then_accepted(firm_a, client_for, pm, book):
    client = client_for(firm_a, pm)
    upload = SimpleUploadedFile("positions.csv", b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                                                 b"A-1,A-1-L1,VTI,100,8000,2020-01-02\n", content_type="text/csv")

    created = client.post(f"{API}/reconciliations/", {"file": upload, "as_of": "2026-11-20"})
    pk = created.json()["id"]
    [account] = created.json()["accounts"]
    typo = client.post(f"{API}/reconciliations/{pk}/accept/", {"accounts": ["A-9"], "comment": "typo"},
                       content_type="application/json")
    accepted = client.post(f"{API}/reconciliations/{pk}/accept/", {"comment": "custodian is right"},
                           content_type="application/json")
    again = client.post(f"{API}/reconciliations/{pk}/accept/", {"comment": "twice"}, content_type="application/json")

    assert created.status_code == 201 and account["decision"] == "pending"
    assert account["rows"] == [{"symbol": "VTI", "ledger_quantity": "150.000000", "custodian_quantity": "100.000000",
                                "quantity_difference": "-50.000000", "ledger_cost_basis": "14000.00",
                                "custodian_cost_basis": "8000.00", "cost_basis_difference": "-6000.00"}]
    assert accepted.status_code == 200 and accepted.json() == {"accounts": 1}
    # an account number not in the file is named (it read "nothing waiting for a decision"); once
    # every account is decided, a second decision is a conflict, as documented
    assert typo.status_code == 400 and typo.json()["detail"] == {"field": "accounts", "accounts": ["A-9"]}
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_decide"
    with tenant_context(firm_a):
        assert list(TaxLot.objects.values_list("lot_id", flat=True)) == ["A-1-L1"]


def test_the_reports_answer_json(firm_a, client_for, pm, sale):
    client = client_for(firm_a, pm)
    client.post(f"{API}/executions/", {"executions": [fill("X-1", sale, "120", "100", date(2026, 11, 18))],
                                       "as_of": "2026-11-20"}, content_type="application/json")

    realised = client.get(f"{API}/reports/realised-gains/", {"start": "2026-01-01", "end": "2026-12-31"}).json()
    harvest = client.get(f"{API}/reports/harvest/", {"start": "2026-01-01", "end": "2026-12-31"})
    transition = client.get(f"{API}/reports/transition/", {"as_of": "2026-11-20"})
    backwards = client.get(f"{API}/reports/harvest/", {"start": "2026-12-31", "end": "2026-01-01"})
    typo = client.get(f"{API}/reports/realised-gains/", {"start": "2026-01-01", "end": "2026-12-31", "account": "A-l"})

    assert [(lot["lot_id"], lot["gain_or_loss"], lot["term"]) for lot in realised["lots"]] == [
        ("A-1-L2", "-1000.00", "short"), ("A-1-L1", "1400.00", "long")]
    assert realised["households"][0]["net"] == "400.00"
    assert (harvest.status_code, harvest.json()) == (200, [])
    assert (transition.status_code, transition.json()) == (200, [])
    assert backwards.status_code == 400
    # an account the user has none of is named, not answered with an empty report ("no sales")
    assert typo.status_code == 400 and typo.json()["detail"] == {"field": "account"}
    assert realised["lots"][0]["lost"] == "0.00" and realised["recalculations"] == []
    # Form 8949's box per line, and the totals per box and Schedule D line (lots from the custodian's
    # file bought after their cut-off: whether the basis was reported is not known, box B/E)
    assert [(lot["box"], lot["schedule_d_line"], lot["basis_reported_to_irs"]) for lot in realised["lots"]] == [
        ("B", "2", None), ("E", "9", None)]
    assert "custodian's lots file" in realised["lots"][0]["box_reason"]
    assert [(b["part"], b["box"], b["line"], b["lines"], b["gain_or_loss"]) for b in realised["boxes"]] == [
        ("I", "B", "2", 1, "-1000.00"), ("II", "E", "9", 1, "1400.00")]

    [schedule] = client.get(f"{API}/reports/schedule-d/", {"year": "2026"}).json()
    # -1,000 short-term and +1,400 long-term: a 400 net gain, all long-term; nothing carried.
    assert (schedule["household"], schedule["sheet"]["net"], schedule["sheet"]["taxable_long"],
            schedule["sheet"]["carried_out_short"]) == ("HH-A-1", "400.00", "400.00", "0.00")
    assert client.get(f"{API}/reports/schedule-d/", {"year": "-1"}).status_code == 400
