"""Who chose a proposal's trades (``Proposal.chosen_by``): every person along its revision chain, not
only its last editor (``revised_by``), so none of them gives its compliance approval. Proposals made
before are filled by walking each chain from its first proposal: each link's ``revised_by`` (an
instruction's author, then each editor), once, in order; a run's proposal and a removed user name
nobody."""

import django.contrib.postgres.fields
from django.db import migrations, models


def chosen_by_fill(apps, schema_editor):
    Proposal = apps.get_model("rebalancing", "Proposal")
    links = {pk: (revised_from, revised_by) for pk, revised_from, revised_by in
             Proposal.objects.filter(models.Q(revised_by__isnull=False) | models.Q(revised_from__isnull=False))
             .values_list("pk", "revised_from_id", "revised_by_id")}
    chosen: dict[int, list[int]] = {}

    def of(pk: int) -> list[int]:
        # Back to the first proposal of the chain (or one already known), then forward: a loop,
        # not recursion, for a chain may be long.
        chain = []
        while pk is not None and pk not in chosen:
            chain.append(pk)
            pk = links.get(pk, (None, None))[0]
        names = chosen.get(pk, [])
        for link in reversed(chain):
            by = links.get(link, (None, None))[1]
            names = names if by is None or by in names else [*names, by]
            chosen[link] = names
        return names

    filled = [Proposal(pk=pk, chosen_by=names) for pk in links if (names := of(pk))]
    Proposal.objects.bulk_update(filled, ["chosen_by"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("rebalancing", "0047_return_taxable_income"),
    ]

    operations = [
        migrations.AddField(
            model_name="proposal",
            name="chosen_by",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(), blank=True, default=list,
                help_text="Ids of the users who chose its trades (an instruction, each edit), first to last",
                size=None),
        ),
        migrations.RunPython(chosen_by_fill, migrations.RunPython.noop),
    ]
