"""The same cash-flow file uploaded twice at once (a double click, a retry while the first is still
being entered) enters its deposits twice. ``cash_flows_import`` refuses a row without a reference
that repeats a cash flow entered today ("is this file imported twice?", docs/csv-formats.md
"cash_flows"), but it reads what was entered today (``_entered_today``) before it takes any lock, and
takes none for the file as a whole (the book imports take ``import_begin``'s advisory lock): both
uploads see nothing entered, queue on the household's row lock, and each enters the deposit - the
client's money credited twice. One of them must be refused (or both enter once)."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django_tenants.utils import tenant_context

from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.models import CashFlow, Household, ModelPortfolio, ParameterTemplate, RebalanceRun, Security
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..rebalancing.book import make_book
from .conftest import in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            pm = user_ensure(username="pm@flows-race.example", email="pm@flows-race.example",
                             roles=[FirmRole.PORTFOLIO_MANAGER])
            book = make_book(1)
        yield firm, pm, book
        with tenant_context(firm):
            CashFlow.objects.all().delete()
            RebalanceRun.objects.all().delete()
            for account in book["accounts"]:
                account.delete()
            Household.objects.all().delete()
            ModelPortfolio.objects.all().delete()
            ParameterTemplate.objects.all().delete()
            Security.objects.all().delete()


def _rows_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')")
        return cursor.fetchone()[0]


def test_the_same_deposit_file_uploaded_twice_at_once_enters_its_deposit_once(committed, django_db_blocker):
    firm, pm, book = committed
    account = book["accounts"][0]
    text = (f"household_id,kind,amount,account_number\n"
            f"{account.household.external_id},deposit,2500,{account.custodian_number}\n").encode()
    release = threading.Event()
    holding = threading.Event()
    outcomes: dict = {}

    def hold_the_household():
        # Another request busy with the household (a withdrawal being planned): both uploads wait for it.
        with transaction.atomic():
            Household.objects.select_for_update().get(pk=account.household_id)
            holding.set()
            release.wait(30)

    with django_db_blocker.unblock():
        holder = in_thread(firm, hold_the_household, outcomes, "holder")
        assert holding.wait(10)
        uploads = [in_thread(firm, lambda: cash_flows_import(source=text, user=pm), outcomes, key)
                   for key in ("first", "second")]
        with tenant_context(firm):
            deadline = time.monotonic() + 20
            while _rows_waiting_for_a_lock() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        release.set()
        for thread in (holder, *uploads):
            thread.join(60)
        connections.close_all()

        with tenant_context(firm):
            deposits = list(CashFlow.objects.filter(household=account.household).values_list("amount", flat=True))
        errors = [o for o in (outcomes["first"], outcomes["second"]) if isinstance(o, Exception)]
        assert len(deposits) == 1, (deposits, outcomes)
        assert len(errors) <= 1, outcomes

