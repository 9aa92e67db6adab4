"""Browser tests: a real web server process and a real Celery worker on the test database, driven
by Debian's Chromium through Playwright (pytest-playwright).

The pages are served by ``manage.py runserver --insecure`` (static files from the apps' folders)
for a firm of their own, ``e2e``, created and committed through the real onboarding service and
dropped again when the last browser test is done (package scope), so the tests after them see only
the firms they expect. The
worker and the server share a broker folder of their own: no stale message of another run can
reach them.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import Firm
from tenants.roles import FirmRole, ProviderRole
from tenants.services import firm_create, user_ensure
from tests.conftest import PASSWORD
from tests.frontend.book import make_firm_book
from tests.integration.conftest import _test_database_url, start_worker

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@contextmanager
def orm_beside_playwright():
    """Playwright's sync API runs an event loop in the test thread; the tests' ORM calls are
    synchronous all the same (Django would otherwise refuse them as "async unsafe"). Set only
    while browser tests run, never for the server, the worker or other tests' subprocesses."""
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = before


@pytest.fixture(autouse=True)
def _orm_beside_playwright():
    with orm_beside_playwright():
        yield

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
FIRM = {"name": "Evergreen Wealth", "slug": "e2e", "admin_email": "admin@e2e.example"}
SCREENSHOTS = ROOT / "docs" / "screenshots"
PEOPLE = {
    "admin": ("admin@e2e.example", FirmRole.FIRM_ADMIN, "Alex", "Admin"),
    "pm": ("pm@e2e.example", FirmRole.PORTFOLIO_MANAGER, "Priya", "Manager"),
    "advisor": ("advisor1@e2e.example", FirmRole.ADVISOR, "Avery", "Advisor"),
    "colleague": ("advisor2@e2e.example", FirmRole.ADVISOR, "Blake", "Advisor"),
    "compliance": ("compliance@e2e.example", FirmRole.COMPLIANCE, "Casey", "Compliance"),
}
OPERATOR = "operator@provider-e2e.example"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's Chromium, never a browser Playwright would download (none can be fetched here)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `scripts/run test` installs it (apt-get install chromium) when run as root")
    return {
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


# pytest-playwright's browser fixtures, at package scope instead of session scope: Playwright's
# event loop must stop with the last browser test, or the tests after them could not use the ORM.
@pytest.fixture(scope="package")
def playwright():
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    yield driver
    driver.stop()


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **options: browser_type.launch(**{**browser_type_launch_args, **options})


@pytest.fixture(scope="package")
def browser(launch_browser):
    chromium = launch_browser()
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1366, "height": 900}, "locale": "en-US"}


def _drop_firm(slug: str) -> None:
    firm = Firm.objects.filter(slug=slug).first()
    if firm is None:
        return
    schema = firm.schema_name
    with schema_context("public"):
        firm.delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="package")
def e2e_firm(django_db_setup, django_db_blocker):
    """The browser tests' firm with a user of every role and a book whose proposals wait for approval."""
    with django_db_blocker.unblock(), orm_beside_playwright():
        _drop_firm(FIRM["slug"])  # left over by an interrupted session
        firm_create(**FIRM, admin_password=PASSWORD)
        firm = Firm.objects.get(slug=FIRM["slug"])
        with schema_context("public"):
            user_ensure(username=OPERATOR, email=OPERATOR, roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD,
                        first_name="Oli", last_name="Operator")
        with schema_context(firm.schema_name):
            people = {key: user_ensure(username=u, email=u, roles=[role], password=PASSWORD, first_name=first,
                                       last_name=last) for key, (u, role, first, last) in PEOPLE.items()}
            book = make_firm_book(people, accounts_per_advisor=3)
        connection.set_schema_to_public()
    yield {"firm": firm, "people": people, "book": book}
    with django_db_blocker.unblock(), orm_beside_playwright():
        connection.set_schema_to_public()
        _drop_firm(FIRM["slug"])  # the provider's operator stays: deleting a user cascades into firm tables


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def e2e_broker_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("e2e-broker")
    (path / "control").mkdir()
    return path


@pytest.fixture(scope="package")
def e2e_server(e2e_firm, e2e_broker_dir, tmp_path_factory):
    """``http://localhost:<port>``: a runserver process on the test database (firms at
    ``http://<slug>.localhost:<port>``; Chromium resolves *.localhost to 127.0.0.1)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("e2e-server") / "server.log"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=_test_database_url(),
               CELERY_FILESYSTEM_BROKER_DIR=str(e2e_broker_dir), PYTHONUNBUFFERED="1")
    env.pop(ASYNC_UNSAFE, None)
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the web server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    yield f"http://localhost:{port}"
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="package")
def e2e_worker(e2e_server, e2e_broker_dir, tmp_path_factory):
    """A real Celery worker on the test database and the servers' broker folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CELERY_FILESYSTEM_BROKER_DIR", str(e2e_broker_dir))
        mp.delenv(ASYNC_UNSAFE, raising=False)
        process = start_worker(tmp_path_factory.mktemp("e2e-worker") / "worker.log", name="e2e-worker", concurrency=1)
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(e2e_broker_dir, ignore_errors=True)


@pytest.fixture
def firm_url(e2e_server):
    """``firm_url("/accounts/")`` -> the e2e firm's page."""
    return lambda path="/": e2e_server.replace("localhost", f"{FIRM['slug']}.localhost") + path


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("User name (e-mail)").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture
def signed_in(page, firm_url):
    """Sign the browser's page in as one of the firm's people: signed_in("advisor")."""

    def go(key: str):
        sign_in(page, firm_url("").rstrip("/"), PEOPLE[key][0])
        return page

    return go


@pytest.fixture
def in_firm(e2e_firm, django_db_blocker):
    """``with in_firm(): ...`` reads the e2e firm's committed rows from the test."""

    @contextmanager
    def open_schema():
        with django_db_blocker.unblock():
            try:
                with schema_context(e2e_firm["firm"].schema_name):
                    yield
            finally:
                # Playwright's greenlet gets a database connection of its own; close it, or the
                # test database cannot be dropped at the end of the session.
                connection.close()

    return open_schema


MAX_BYTES = 300_000


@pytest.fixture
def shot(tmp_path):
    """shot(page_or_element, "name"): a PNG in docs/screenshots/ (UPDATE_SCREENSHOTS=1) or a temporary folder."""
    out = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return lambda target, name, full_page=True: _shot(target, out / f"{name}.png", full_page=full_page)


def _shot(target, path, *, full_page: bool) -> None:
    if hasattr(target, "viewport_size"):  # a page
        target.screenshot(path=str(path), full_page=full_page, animations="disabled")
        if path.stat().st_size > MAX_BYTES and full_page:
            target.screenshot(path=str(path), full_page=False, animations="disabled")
    else:  # an element
        target.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size < MAX_BYTES * 1.5, f"{path.name} is {path.stat().st_size} bytes"
