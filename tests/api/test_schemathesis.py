"""Property-based: every operation of the served OpenAPI schema, fed generated requests (valid and
invalid), answers without a server error and with a body its schema describes (errors included)."""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ..conftest import host_of
from ..rebalancing.test_risk_models import _prices

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 5  # per operation: about 40 operations, so a few hundred requests in all


@contextmanager
def _in_test_transaction():
    """Like Django's test client: the request must not close the connection holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _at_host(app, host: str):
    def wsgi(environ, start_response):
        environ["HTTP_HOST"] = environ["SERVER_NAME"] = host
        return app(environ, start_response)

    return wsgi


def _real_ids(firm, people, book) -> dict[str, str]:
    """An existing object per resource, so generated requests reach past the 404 too."""
    from datetime import date
    from decimal import Decimal

    from django_tenants.utils import tenant_context

    from rebalancing.models import Benchmark, BenchmarkWeight, Price
    from rebalancing.services.proposals import proposal_approve, proposal_release
    from rebalancing.services.risk_models import risk_model_estimate
    from tenants.api_keys.models import ApiKey
    from tenants.audit.models import AuditEvent

    with tenant_context(firm):
        released = proposal_release(proposal=proposal_approve(proposal=book["own_proposal"], user=people["advisor"]),
                                    user=people["pm"])
        benchmark = Benchmark.objects.create(code="TOT", name="Total market")
        BenchmarkWeight.objects.create(benchmark=benchmark, date=date(2026, 11, 1), weight=Decimal(1),
                                       security=book["securities"]["VTI"])
        _prices(11, 130)  # enough history for a risk model version
        risk_model = risk_model_estimate(as_of=date(2026, 11, 20)).version
        return {
            "accounts": book["own"].pk, "households": book["own"].household_id, "proposals": released.pk,
            "orders": f"P{released.pk}-1", "runs": book["run"].pk, "models": book["model"].pk,
            "templates": book["template"].pk, "securities": book["securities"]["VTI"].pk,
            "prices": Price.objects.first().pk, "benchmarks": benchmark.pk, "audit-events": AuditEvent.objects.first().pk,
            "api-keys": ApiKey.objects.first().pk, "risk-models": risk_model.pk,
        }


def test_every_operation_keeps_to_its_schema(firm_a, people, book, api_key):
    token = api_key(firm_a, people["admin"], scopes=["read", "import", "run", "parameters", "admin"])
    auth = {"Authorization": f"Bearer {token}"}
    real = _real_ids(firm_a, people, book)

    def with_real_id(case):
        resource = case.operation.path.split("/")[3]
        if resource in real:
            case.path_parameters = {**case.path_parameters, "id": str(real[resource])}
        return case

    app = _at_host(WSGIHandler(), host_of(firm_a))
    failures: dict[str, str] = {}

    with _in_test_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", app, headers={"Accept": "application/json"})
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            strategy = operation.as_strategy()
            if "{id}" in operation.path:  # half of the examples with an id that exists
                strategy = st.one_of(strategy, strategy.map(with_real_id))

            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def keeps_to_schema(case):
                case.call_and_validate(headers=auth, checks=[not_a_server_error, response_schema_conformance])

            try:
                keeps_to_schema()
            except Exception as exc:  # collect all, report together
                failures[operation.label] = str(exc)[:3000]

    assert len(operations) >= 35
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
