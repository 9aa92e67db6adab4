"""Household ids are unique ignoring capitals ("acm-hh-00009" beside "ACM-HH-00009" is refused), as
model and template codes are (services.book._code_free). A firm whose book already holds such a pair
is told which, rather than failing on the index."""

import django.db.models.functions.text
from django.db import migrations, models


def clashing_ids_refuse(apps, schema_editor):
    Household = apps.get_model("rebalancing", "Household")
    clashes = (Household.objects.annotate(key=django.db.models.functions.text.Upper("external_id"))
               .values("key").annotate(n=models.Count("id")).filter(n__gt=1).values_list("key", flat=True))
    clashes = list(clashes[:20])
    if clashes:
        ids = sorted(Household.objects.annotate(key=django.db.models.functions.text.Upper("external_id"))
                     .filter(key__in=clashes).values_list("external_id", flat=True))
        raise RuntimeError(f"Household ids equal but for capitals in schema {schema_editor.connection.schema_name}: "
                           f"{', '.join(ids)}. Rename one of each pair (or move its accounts and delete it) and "
                           "migrate again.")


class Migration(migrations.Migration):

    dependencies = [
        ('rebalancing', '0045_account_rmd_amounts'),
    ]

    operations = [
        migrations.RunPython(clashing_ids_refuse, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='household',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Upper('external_id'), name='household_external_id_unique_ignoring_case', violation_error_message='A household id equal to another but for capitals is refused: household ids are told apart ignoring capitals.'),
        ),
    ]
