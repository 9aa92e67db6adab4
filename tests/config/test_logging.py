import json
import logging
import sys

from django_tenants.utils import schema_context
from pythonjsonlogger.json import JsonFormatter

from config.log_context import FirmFilter, RefusalWithoutTraceback


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


def test_a_roles_refusal_is_one_warning_line_with_its_reason_and_no_traceback(firm_a, firm_user, client_for, caplog):
    # An advisor opening the People page (firm admins only) is refused: a 403 the product means.
    advisor = firm_user(firm_a, "adv@logging.example")
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client_for(firm_a, advisor).get("/people/").status_code == 403

    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None and record.exc_text is None
    assert record.getMessage() == "Forbidden (Permission denied): /people/: Your role does not allow this (manage users)."


def test_an_error_keeps_its_traceback(caplog):
    # Anything else the logger is given passes as it is (a 500's traceback is what the log is for).
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /x/", None,
                                   sys.exc_info())
    record.status_code = 500

    assert RefusalWithoutTraceback().filter(record) and record.exc_info is not None
