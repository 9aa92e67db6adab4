"""Idempotency records kept an API key's token for 24 hours (issue 14): forget every one.

From now on the key-creation endpoint stores its answer without the token (rebalancing.api.base,
``@idempotent(secrets=("token",))``); this removes the tokens older records still hold, in every
schema, and marks them withheld so a replay says so.
"""

from django.db import migrations

WITHHELD = "__withheld__"


def forget_tokens(apps, schema_editor):
    IdempotencyRecord = apps.get_model("api_keys", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.filter(body__has_key="token").iterator():
        token = record.body.get("token")
        if isinstance(token, str) and token.startswith("rk_"):
            body = {k: v for k, v in record.body.items() if k != "token"}
            body[WITHHELD] = ["token"]
            record.body = body
            record.save(update_fields=["body"])


class Migration(migrations.Migration):
    dependencies = [("api_keys", "0001_initial")]

    operations = [migrations.RunPython(forget_tokens, migrations.RunPython.noop)]
