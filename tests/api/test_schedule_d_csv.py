"""docs/api.md (reports row): realised-gains, harvest, transition, schedule-d answer JSON, or with
?format=csv or Accept: text/csv the CSV the report page downloads."""

import pytest

from rebalancing.ledger import reports

from .conftest import API

pytestmark = pytest.mark.django_db


def test_schedule_d_is_answered_as_csv_as_the_other_tax_reports(firm_a, people, client_for):
    client = client_for(firm_a, people["pm"])
    as_format = client.get(f"{API}/reports/schedule-d/?year=2026&format=csv")
    by_accept = client.get(f"{API}/reports/schedule-d/?year=2026", HTTP_ACCEPT="text/csv")
    assert as_format.status_code == 200, as_format.content
    assert as_format["Content-Type"].startswith("text/csv")
    assert by_accept.status_code == 200 and by_accept["Content-Type"].startswith("text/csv")
    assert as_format.content == by_accept.content
    # The page's own writer (reports.schedule_d_csv): its columns, its file name.
    assert as_format.content.decode().splitlines()[0] == reports.schedule_d_csv([]).splitlines()[0]
    assert as_format["Content-Disposition"] == 'attachment; filename="schedule-d-2026.csv"'
    as_json = client.get(f"{API}/reports/schedule-d/?year=2026")
    assert as_json.status_code == 200 and as_json["Content-Type"].startswith("application/json")
