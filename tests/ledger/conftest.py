import subprocess
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from tenants.roles import FirmRole

from ..rebalancing.book import make_account, make_model, make_securities, make_template


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@ledger.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def in_firm_a(firm_a):
    with tenant_context(firm_a):
        yield firm_a


@pytest.fixture
def book(in_firm_a):
    """VTI and ITOT are one equivalence group here ("us_total"); A-1 holds two lots of VTI."""
    securities = make_securities()
    model = make_model()
    template = make_template()
    account = make_account("A-1", model=model, template=template, holdings=[
        ("VTI", 100, 8000, date(2020, 1, 2)),  # A-1-L1: 80.00 a share, long-term
        ("VTI", 50, 6000, date(2026, 6, 1)),  # A-1-L2: 120.00 a share, short-term
    ])
    return {"securities": securities, "model": model, "template": template, "account": account}


@pytest.fixture(scope="module")
def ledger_worker(django_db_setup, tmp_path_factory):
    """A real Celery worker process of our own for the end-to-end walk (the integration suite's
    session worker clears the broker folder when it starts, so it is not shared across folders)."""
    from ..integration.conftest import start_worker

    process = start_worker(tmp_path_factory.mktemp("ledger-worker") / "worker.log", name="ledger-worker")
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
