"""The layers and what each may import (docs/architecture.md), checked on every module's imports,
those inside functions included."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ("rebalancing/engine", "rebalancing/ledger/wash_sales.py", "rebalancing/ledger/schedule_d.py")
DJANGO_WORLD = ("django", "rest_framework", "celery", "guardian", "django_tenants", "tenant_schemas_celery",
                "drf_spectacular", "tenants", "frontend", "config")


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules(where: str) -> list[Path]:
    base = ROOT / where
    paths = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    return [p for p in paths if "migrations" not in p.parts]


def offending(where: str, forbidden: tuple[str, ...], *, allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in modules(where):
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden) and not any(
                name == a or name.startswith(a + ".") for a in allowed
            ):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


@pytest.mark.parametrize("where", PURE)
def test_the_engine_and_the_pure_tax_rules_import_no_django_nor_the_apps(where):
    allowed = ("rebalancing.engine",)
    assert offending(where, (*DJANGO_WORLD, "rebalancing"), allowed=allowed) == []


def test_the_platform_layer_never_imports_the_domain_or_the_pages():
    assert offending("tenants", ("rebalancing", "frontend")) == []


def test_the_domain_never_imports_the_pages():
    assert offending("rebalancing", ("frontend",)) == []


def test_services_start_work_by_task_name_and_never_import_the_tasks():
    assert offending("rebalancing/services", ("rebalancing.tasks",)) == []
    assert offending("rebalancing/ledger", ("rebalancing.tasks",)) == []
