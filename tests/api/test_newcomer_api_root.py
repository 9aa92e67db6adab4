"""GET /api/v1/ - where the README introduces the API - lists its endpoints and the schema and docs,
under the API's own authentication: anonymous 401, a key needs the read scope, as every GET."""

import pytest
from django.test import Client

from ..conftest import host_of
from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def test_the_root_lists_every_endpoint_and_the_schema_and_each_link_answers(firm_a, people, client_for):
    client = client_for(firm_a, people["pm"])

    root = client.get(f"{API}/")

    assert root.status_code == 200, root.content
    body = root.json()
    base = f"http://{host_of(firm_a)}{API}/"
    assert body["schema"] == f"{base}schema/" and body["docs"] == f"{base}docs/" and body["redoc"] == f"{base}redoc/"
    endpoints = body["endpoints"]
    for name in ("accounts", "proposals", "runs", "risk-models", "reconciliations", "imports", "whatif",
                 "reports/realised-gains"):
        assert endpoints[name] == f"{base}{name}/"
    for name in ("accounts", "proposals", "runs", "risk-models", "reconciliations", "reports/rmds"):
        assert client.get(endpoints[name]).status_code == 200, name
    assert client.get(body["schema"], HTTP_ACCEPT="application/json").status_code == 200


def test_anonymous_is_401_and_a_key_needs_the_read_scope(firm_a, people, api_key):
    anonymous = Client(HTTP_HOST=host_of(firm_a)).get(f"{API}/")
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "not_authenticated"

    assert key_client(firm_a, api_key(firm_a, people["pm"], scopes=("read",))).get(f"{API}/").status_code == 200
    run_only = key_client(firm_a, api_key(firm_a, people["pm"], scopes=("run",))).get(f"{API}/")
    assert run_only.status_code == 403 and error_of(run_only)["detail"] == {"scope": "read"}


def test_an_unknown_path_is_still_the_apis_json_404(firm_a, people, client_for):
    unknown = client_for(firm_a, people["pm"]).get(f"{API}/no-such-thing/")
    assert unknown.status_code == 404 and error_of(unknown)["detail"] == {"path": f"{API}/no-such-thing/"}
