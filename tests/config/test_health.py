import json

import pytest
from django.db import connection

from config import health
from config.celery_app import app
from tenants.models import Firm


@pytest.fixture(autouse=True)
def _no_cached_readiness():
    health._READY_CACHE.update(at=0.0, result=None)
    yield
    health._READY_CACHE.update(at=0.0, result=None)


def test_liveness_answers_on_any_host_without_io(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_broker_and_every_schema_are_migrated(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["problems"] == []


@pytest.mark.django_db
def test_not_ready_when_the_broker_is_unreachable(client):
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = "redis://127.0.0.1:1/0", {}
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
    body = json.loads(response.content)
    assert response.status_code == 503
    assert any(p.startswith("broker:") for p in body["problems"])


@pytest.mark.django_db
def test_a_failing_check_is_named_publicly_and_explained_only_in_the_log(client, caplog):
    # /readyz answers on every host: the broker's address and the error text are the log's, not the answer's.
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = "redis://127.0.0.1:1/0", {}
    try:
        with caplog.at_level("WARNING", logger="config.health"):
            response = client.get("/readyz", HTTP_HOST="anyone.example")
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "unavailable", "problems": ["broker: unavailable"]}
    assert "127.0.0.1:1" in caplog.text and "readiness: broker:" in caplog.text


@pytest.mark.django_db
def test_not_ready_when_a_firm_schema_is_not_migrated(client, caplog):
    # A registry row whose schema exists but has no tables: as if its migration never ran.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA firm_unmigrated")
    firm = Firm(name="Unmigrated", slug="unmigrated", admin_email="a@b.example", schema_name="firm_unmigrated")
    firm.auto_create_schema = False
    firm.save()

    with caplog.at_level("WARNING", logger="config.health"):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert json.loads(response.content)["problems"] == ["migrations: pending"]  # which firm: the log's
    assert "firm_unmigrated" not in response.content.decode()
    assert "pending in schema 'firm_unmigrated'" in caplog.text


@pytest.mark.django_db
def test_not_ready_on_a_database_without_the_registry(client):
    # As on a fresh database before the release job ran: answered as JSON 503, not a server error.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tenants_firm RENAME TO tenants_firm_hidden")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert json.loads(response.content)["problems"] == ["migrations: cannot read the migration state"]
    assert "tenants_firm" not in response.content.decode()  # the database's error text stays in the log
