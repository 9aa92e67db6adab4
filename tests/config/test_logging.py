import json
import logging

from django_tenants.utils import schema_context
from pythonjsonlogger.json import JsonFormatter

from config.log_context import FirmFilter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("rebalancing", logging.INFO, __file__, 1, message, None, None)


def test_json_log_line_names_the_firm(firm_a):
    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(firm)s %(message)s")
    record = _record("proposal approved")

    with schema_context(firm_a.schema_name):
        FirmFilter().filter(record)
    line = json.loads(formatter.format(record))

    assert line["firm"] == "firm_firm_a"
    assert line["message"] == "proposal approved"
    assert line["levelname"] == "INFO"


def test_outside_a_firm_the_public_schema_is_named(db):
    record = _record("nightly dispatch")
    FirmFilter().filter(record)
    assert record.firm == "public"
