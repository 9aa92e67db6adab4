"""A service that locks rows (``select_for_update``, itself or through a helper of its module) runs in
a transaction of its own: ``@transaction.atomic`` on it, or ``with transaction.atomic()`` inside.
Tests run inside a transaction and so never see the difference; a page or an API view does, as
"select_for_update cannot be used outside of a transaction" (a server error)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted((ROOT / "rebalancing" / "services").glob("*.py"))


def _is_atomic(node: ast.AST) -> bool:
    """``transaction.atomic`` or ``atomic``, called or not."""
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Attribute) and target.attr == "atomic") or (
        isinstance(target, ast.Name) and target.id == "atomic")


def _locks(function: ast.FunctionDef, helpers: dict[str, ast.FunctionDef], seen: frozenset = frozenset()) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and node.attr == "select_for_update":
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers
                and node.func.id not in seen and not _in_transaction(helpers[node.func.id])
                and _locks(helpers[node.func.id], helpers, seen | {node.func.id})):
            return True
    return False


def _in_transaction(function: ast.FunctionDef) -> bool:
    if any(_is_atomic(d) for d in function.decorator_list):
        return True
    return any(isinstance(node, ast.With) and any(_is_atomic(item.context_expr) for item in node.items)
               for node in ast.walk(function))


def unlocked_services() -> list[str]:
    found = []
    for path in SERVICES:
        tree = ast.parse(path.read_text(), filename=str(path))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for name, function in functions.items():
            if not name.startswith("_") and _locks(function, functions) and not _in_transaction(function):
                found.append(f"{path.name}:{name}")
    return found


def test_every_service_that_locks_rows_runs_in_a_transaction():
    assert unlocked_services() == []


def test_the_check_sees_a_lock_taken_through_a_helper_outside_a_transaction(tmp_path, monkeypatch):
    source = '''
from django.db import transaction

def _visible(pk):
    return Thing.objects.select_for_update().get(pk=pk)

@transaction.atomic
def _unrelated():
    pass

def thing_set(*, pk):
    return _visible(pk)

@transaction.atomic
def thing_change(*, pk):
    return _visible(pk)

def thing_cancel(*, pk):
    with transaction.atomic():
        return _visible(pk)
'''
    (tmp_path / "things.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["SERVICES"]), "SERVICES", [tmp_path / "things.py"])
    assert unlocked_services() == ["things.py:thing_set"]
