"""Bulk writes through COPY: large values are stored lz4-compressed where the server has lz4."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rebalancing.copy_writes import objects_insert_by_copy
from rebalancing.models import Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def _server_has_lz4() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        return bool(cursor.fetchone()[0])


@pytest.mark.parametrize("ignore_conflicts", [False, True])
def test_a_large_proposal_is_stored_lz4_compressed(firm_a, ignore_conflicts):
    if not _server_has_lz4():
        pytest.skip("this PostgreSQL was built without lz4")
    with tenant_context(firm_a):
        make_book(1)
        first = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(first):
            run_process_chunk(run_id=first.pk, account_ids=chunk)
        proposal = Proposal.objects.get(run=first)
        second = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        proposal.pk, proposal.run = None, second
        proposal.result = {**proposal.result, "warnings": [f"line {i} of a long explanation" for i in range(5_000)]}

        objects_insert_by_copy([proposal], ignore_conflicts=ignore_conflicts)

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_column_compression(result), octet_length(result::text) FROM rebalancing_proposal "
                "WHERE run_id = %s",
                [second.pk],
            )
            compression, size = cursor.fetchone()
        assert compression == "lz4" and size > 100_000
