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


@pytest.mark.django_db
def test_alerts_stored_as_other_are_moved_to_the_kind_the_engine_named_them_by(firm_a):
    import importlib

    from django.apps import apps
    from django_tenants.utils import tenant_context

    from rebalancing.models import Alert
    from tests.rebalancing.book import make_account, make_book

    named = importlib.import_module("rebalancing.migrations.0033_alert_kind_named")
    with tenant_context(firm_a):
        account = make_account("T-ALERTS", model=make_book(1)["model"])
        messages = {
            "sleeve us_large_cap holds 159 names, above its maximum of 150 (selling the rest would break the tax "
            "budget or a restriction)": "max_names",
            "1,234.00 of losses are disallowed by wash sales (allowed by wash_sale.allow)": "wash_sale",
            "buying VTI within 30 days of a household loss sale disallows that loss (allowed by wash_sale.allow)":
                "wash_sale",
            "something else the engine said": "other",
        }
        for message in messages:
            Alert.objects.create(account=account, kind="other", message=message)
        Alert.objects.create(account=account, kind="drift", message="sleeve x holds 3 names, above its maximum of 2")
        named._name_stored(apps, None)
        assert dict(Alert.objects.exclude(kind="drift").values_list("message", "kind")) == messages
        assert Alert.objects.filter(kind="drift").count() == 1
        named._back_to_other(apps, None)
        assert set(Alert.objects.exclude(kind="drift").values_list("kind", flat=True)) == {"other"}
