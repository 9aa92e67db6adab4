"""Clients generated from the served OpenAPI schema work, as an integration user would use them.

Python: openapi-python-client generates a package from ``/api/v1/schema/`` of the live test server;
every module imports; the nightly script of docs/integrations.md, run as written, and the
generated calls drive the main flow over HTTP: an API key's session, accounts and lots imported,
a run started and waited for (a real Celery worker), a proposal read and approved, released,
executions posted, the realised-gains report read. TypeScript: openapi-typescript generates the
types and ``tsc --strict`` checks a program using them with openapi-fetch; the npm packages are
installed by the test into ``.data/node`` (git-ignored), so a fresh clone needs only node and npm.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.api_keys.services import api_key_create

from .conftest import FIRM, orm_beside_playwright

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_DIR = ROOT / ".data" / "node"
NPM_PACKAGES = ["openapi-typescript@7", "typescript@5", "openapi-fetch@0"]
HOST = f"{FIRM['slug']}.localhost"


def _run(command: list[str], *, cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def keys(e2e_firm, django_db_blocker):
    """API tokens of the firm's portfolio manager and compliance officer (beside Playwright's loop
    when browser tests ran earlier in this process)."""
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(e2e_firm["firm"].schema_name):
        people = e2e_firm["people"]
        return {
            "pm": api_key_create(user=people["pm"], name="nightly script", by=None, expires_at=None,
                                 scopes=["read", "import", "run", "approve"]).token,
            "compliance": api_key_create(user=people["compliance"], name="compliance desk", by=None, expires_at=None,
                                         scopes=["read", "approve"]).token,
        }


@pytest.fixture(scope="module")
def base_url(e2e_server) -> str:
    return f"http://127.0.0.1:{urlsplit(e2e_server).port}"  # the firm is chosen by the Host header


@pytest.fixture(scope="module")
def served_schema(base_url, keys, tmp_path_factory) -> Path:
    answer = httpx.get(f"{base_url}/api/v1/schema/", headers={"Host": HOST, "Authorization": f"Bearer {keys['pm']}"},
                       timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    path.write_bytes(answer.content)
    return path


@pytest.fixture(scope="module")
def python_client(served_schema, tmp_path_factory):
    """The generated package, importable as ``rebalancing_client``."""
    folder = tmp_path_factory.mktemp("python-client")
    config = folder / "config.yaml"
    config.write_text("package_name_override: rebalancing_client\n")
    output = _run([str(BIN / "openapi-python-client"), "generate", "--path", str(served_schema), "--meta", "none",
                   "--output-path", str(folder / "rebalancing_client"), "--config", str(config)], cwd=folder)
    assert "Warning" not in output and "Unable to" not in output, output  # nothing skipped
    sys.path.insert(0, str(folder))
    yield importlib.import_module("rebalancing_client")
    sys.path.remove(str(folder))
    for name in [m for m in sys.modules if m == "rebalancing_client" or m.startswith("rebalancing_client.")]:
        del sys.modules[name]


def test_every_module_of_the_generated_python_client_imports(python_client):
    names = [m.name for m in pkgutil.walk_packages(python_client.__path__, "rebalancing_client.")]
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every module that fails, not the first
            failed[name] = repr(exc)

    endpoints = [n for n in names if n.startswith("rebalancing_client.api.") and n.count(".") == 3]
    assert failed == {}
    assert len(endpoints) >= 65
    assert {"rebalancing_client.api.proposals.proposals_approve", "rebalancing_client.api.runs.runs_cancel",
            "rebalancing_client.api.webhook_deliveries.webhook_deliveries_resend",
            "rebalancing_client.api.imports.imports_create"} <= set(endpoints)


def _nightly_script() -> dict:
    """The nightly script of docs/integrations.md, as written (its functions, not its __main__)."""
    text = (ROOT / "docs" / "integrations.md").read_text()
    [code] = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if b.startswith("# nightly.py")]
    namespace = {"__name__": "nightly"}
    exec(compile(code, "docs/integrations.md:nightly.py", "exec"), namespace)  # noqa: S102
    return namespace


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def left_as_found(e2e_firm, django_db_blocker):
    """The browser tests after this one count the firm's accounts: remove what the flow imported."""
    yield
    from rebalancing.models import Account, Household, Price

    with django_db_blocker.unblock(), schema_context(e2e_firm["firm"].schema_name):
        Account.objects.filter(custodian_number="GC-100").delete()
        Household.objects.filter(external_id="GC-H100").delete()
        Price.objects.filter(date=timezone.localdate()).delete()


def test_the_python_client_drives_the_main_flow(python_client, base_url, keys, e2e_worker, tmp_path, left_as_found):
    from rebalancing_client import AuthenticatedClient
    from rebalancing_client.api.accounts import accounts_list
    from rebalancing_client.api.proposals import proposals_approve, proposals_list, proposals_retrieve
    from rebalancing_client.api.reports import reports_realised_gains_retrieve
    from rebalancing_client.models import DecisionRequest, ProposalDetail

    nightly = _nightly_script()
    today = timezone.localdate()

    def session(token: str) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base_url, token=token, headers={"Host": HOST},
                                   raise_on_unexpected_status=True, timeout=httpx.Timeout(120))

    pm = session(keys["pm"])
    prices = {"VTI": "104.00", "XLE": "92.00", "BND": "79.50", "VNQ": "95.00"}
    nightly["import_file"](pm, "prices", _csv(tmp_path / "prices.csv", ["symbol", "date", "close"],
                                              [[s, today.isoformat(), p] for s, p in prices.items()]))
    nightly["import_file"](pm, "accounts", _csv(
        tmp_path / "accounts.csv", ["account_number", "account_name", "household_id", "model", "template", "cash"],
        [["GC-100", "Generated client trust", "GC-H100", "balanced", "standard", "500"]]))
    nightly["import_file"](pm, "lots", _csv(
        tmp_path / "lots.csv", ["account_number", "lot_id", "symbol", "quantity", "cost_basis", "acquired"],
        [["GC-100", "GC-L1", "VNQ", "400", "24000.00", "2019-05-06"], ["GC-100", "GC-L2", "VTI", "20", "1500.00",
                                                                       "2020-02-03"]]))
    [account] = accounts_list.sync(client=pm, search="GC-100").results

    run = nightly["rebalance"](pm, today, scope={"account_ids": [account.id]}, poll=0.5)

    assert (run.status, run.total, run.done, run.failed) == ("completed", 1, 1, 0)
    [listed] = proposals_list.sync(client=pm, run=run.id).results
    proposal = proposals_retrieve.sync(client=pm, id=str(listed.id))
    assert isinstance(proposal, ProposalDetail) and proposal.status == "pending_approval"
    sells = [t.to_dict() for t in proposal.trades if t.to_dict()["side"] == "sell"]
    assert any(t["symbol"] == "VNQ" for t in sells)  # 400 VNQ is far above the model's 10%

    decided = proposals_approve.sync(client=pm, id=str(proposal.id), body=DecisionRequest(comment="reviewed"))
    if decided.status == "pending_approval":  # above the policy's thresholds: compliance approves too
        decided = proposals_approve.sync(client=session(keys["compliance"]), id=str(proposal.id),
                                         body=DecisionRequest(comment="compliance reviewed"))
    assert decided.status == "approved"

    assert proposal.id in nightly["release_approved"](pm)
    orders = [row for row in csv.DictReader(io.StringIO(nightly["orders_csv"](pm, today)))
              if row["account_number"] == "GC-100"]
    assert {o["symbol"] for o in orders if o["side"] == "sell"} >= {"VNQ"}
    fills = _csv(tmp_path / "fills.csv", ["external_id", "order_id", "quantity", "price", "trade_date"],
                 [[f"X-{o['order_id']}", o["order_id"], o["quantity"], o["reference_price"], today.isoformat()]
                  for o in orders])
    nightly["post_fills"](pm, fills, today)
    nightly["post_fills"](pm, fills, today)  # sent twice: applied once

    report = reports_realised_gains_retrieve.sync(client=pm, start=today, end=today, account="GC-100")
    sold = [lot for lot in report.lots if lot.symbol == "VNQ"]
    assert sold and all(lot.lot_id == "GC-L1" and lot.term == "long" for lot in sold)
    quantity = sum(float(lot.quantity) for lot in sold)
    assert quantity == float(next(o["quantity"] for o in orders if o["symbol"] == "VNQ"))
    # Bought at 60.00 a share (24,000 / 400), sold at the reference price of 95.00.
    assert float(sum(float(lot.gain_or_loss) for lot in sold)) == pytest.approx(quantity * 35.0, abs=0.01)


def _npm_install() -> Path:
    """openapi-typescript, TypeScript and openapi-fetch in .data/node (git-ignored), once."""
    binaries = NODE_DIR / "node_modules" / ".bin"
    if not ((binaries / "openapi-typescript").exists() and (binaries / "tsc").exists()
            and (NODE_DIR / "node_modules" / "openapi-fetch").exists()):
        if shutil.which("npm") is None:
            pytest.fail("npm is missing: install Node.js 20 (scripts/run test does it as root)")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES], cwd=NODE_DIR)
    return binaries


TYPESCRIPT_PROGRAM = """\
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Proposal = components["schemas"]["Proposal"];

export async function approvePending(baseUrl: string, token: string): Promise<Proposal[]> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const run = await api.POST("/api/v1/runs/", { body: { scope: { firm: true } } });
  if (run.error) throw new Error(`${run.error.code}: ${run.error.message}`);
  const pending = await api.GET("/api/v1/proposals/", {
    params: { query: { status: "pending_approval", run: run.data.id } },
  });
  if (pending.error) throw new Error(pending.error.message);
  for (const proposal of pending.data.results) {
    const decided = await api.POST("/api/v1/proposals/{id}/approve/", {
      params: { path: { id: String(proposal.id) } }, body: { comment: "reviewed" },
    });
    if (decided.error) throw new Error(decided.error.code);
  }
  const hook = await api.POST("/api/v1/webhook-endpoints/", {
    body: { url: "https://oms.example.com/hooks", event_types: ["run.finished", "orders.released"] },
  });
  if (hook.data) console.log(hook.data.secret?.length ?? "withheld");
  return pending.data.results;
}
"""


def test_the_typescript_types_type_check(served_schema, tmp_path):
    binaries = _npm_install()
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules", target_is_directory=True)
    # --default-non-nullable false: a field with a default may be left out of a request.
    _run([str(binaries / "openapi-typescript"), str(served_schema), "--default-non-nullable", "false",
          "-o", str(tmp_path / "api.d.ts")], cwd=tmp_path)
    (tmp_path / "main.ts").write_text(TYPESCRIPT_PROGRAM)
    (tmp_path / "wrong.ts").write_text(TYPESCRIPT_PROGRAM.replace('"orders.released"', '"orders.exploded"'))
    options = ["--strict", "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler",
               "--lib", "es2022,dom"]

    _run([str(binaries / "tsc"), *options, "main.ts", "api.d.ts"], cwd=tmp_path)
    wrong = subprocess.run([str(binaries / "tsc"), *options, "wrong.ts", "api.d.ts"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)

    assert wrong.returncode != 0 and '"orders.exploded"' in wrong.stdout  # the types do check something
