"""docs/openapi.yaml declares the request headers docs/api.md documents for writes - Idempotency-Key on
the POSTs that replay, If-Match (and its 412) on the writes to one object - so a client generated from
it has a parameter for them (integrations.md)."""

import pytest

from .published_schema import spec


def _header_names(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"}


@pytest.mark.parametrize(("path", "method", "header"), [
    ("/api/v1/runs/", "post", "Idempotency-Key"), ("/api/v1/imports/", "post", "Idempotency-Key"),
    ("/api/v1/api-keys/", "post", "Idempotency-Key"), ("/api/v1/backtests/", "post", "Idempotency-Key"),
    ("/api/v1/proposals/{id}/revise/", "post", "Idempotency-Key"),
    ("/api/v1/proposals/{id}/revise/", "post", "If-Match"),
    ("/api/v1/templates/{id}/", "put", "If-Match"), ("/api/v1/templates/{id}/", "patch", "If-Match"),
    ("/api/v1/accounts/{id}/parameters/", "put", "If-Match"),
    ("/api/v1/accounts/{id}/parameters/", "patch", "If-Match"),
    ("/api/v1/households/{id}/tax/", "patch", "If-Match"),
    ("/api/v1/proposals/{id}/approve/", "post", "If-Match"),
])
def test_the_published_schema_declares_the_retry_and_precondition_headers(path, method, header):
    operation = spec()["paths"][path][method]
    assert header in _header_names(operation), f"{operation['operationId']} does not declare {header}"
    if header == "If-Match":
        assert "412" in operation["responses"], f"{operation['operationId']} does not declare its 412"


def test_a_post_that_does_not_replay_does_not_offer_the_key_and_a_list_has_no_if_match():
    paths = spec()["paths"]
    assert "Idempotency-Key" not in _header_names(paths["/api/v1/runs/{id}/cancel/"]["post"])
    assert "If-Match" not in _header_names(paths["/api/v1/runs/"]["post"])
    for item in paths.values():
        for method in ("get", "head"):
            if method in item:
                assert not {"If-Match", "Idempotency-Key"} & _header_names(item[method])
