"""docker/README.md as a newcomer copies it: the worker's default queues and the command that sets the
first admin's password must be the ones the image and the firm's schema really use."""

import re
from pathlib import Path

from config.celery_queues import ALL_QUEUES
from tenants.models import Firm

ROOT = Path(__file__).resolve().parent.parent.parent
README = (ROOT / "docker" / "README.md").read_text()


def test_the_documented_default_queues_are_every_queue_the_entrypoint_consumes():
    documented = re.search(r"`CELERY_QUEUES` \(default `([^`]+)`", README)
    entrypoint = re.search(r'queues="\$\{CELERY_QUEUES:-([^}]+)\}"', (ROOT / "docker" / "entrypoint.sh").read_text())
    assert documented and entrypoint
    assert set(documented.group(1).split(",")) == set(entrypoint.group(1).split(",")) == set(ALL_QUEUES)


def test_the_documented_changepassword_names_the_schema_create_firm_makes():
    # The onboarding example uses the slug acme; tenant_command needs the schema, not the slug.
    assert "--slug acme" in README
    schemas = re.findall(r"tenant_command changepassword <login> --schema=(\S+?)`", README)
    assert schemas and set(schemas) == {Firm.schema_name_for("acme")}
