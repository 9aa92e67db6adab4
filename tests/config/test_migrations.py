from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context


def test_every_model_change_has_a_migration(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits non-zero when one is missing
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_migrations_applied_to_the_empty_test_database_and_each_firm_schema(firm_a, firm_b):
    for schema in ("public", firm_a.schema_name, firm_b.schema_name):
        with schema_context(schema):
            executor = MigrationExecutor(connection)
            assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == [], schema
