"""SQL travels only with bound parameters: an AST scan of every package.

A call to ``text``, ``exec_driver_sql``, ``execute``, ``executemany`` or
``executescript`` fails the scan when its SQL argument is built at run time: an
f-string with a value in it, ``%`` formatting, ``.format()``, ``.join()`` or ``+`` with
anything but literals. Names are followed to their assignments in the same function or
module (``text(SQL)`` with ``SQL = f"…"`` is caught too). A line that truly needs it
carries ``# sql-ok: <why>``, or, for files this test may not touch, an entry in
``ALLOWED`` with the reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security._parse import parse

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("campaigns", "storage", "sip", "amd_model", "agent", "actors", "chatops",
            "dialer")
SQL_CALLS = frozenset({"text", "exec_driver_sql", "execute", "executemany", "executescript"})
MARKER = "# sql-ok:"
ALLOWED: dict[tuple[str, str], str] = {
    ("storage/migrations/versions/0002_status_counts.py",
     'op.execute(f"DROP TRIGGER dialer_cc_counts_{name} ON campaign_contacts")'):
        "DDL in a migration: name runs over the constant tuple ('ins', 'upd', 'del')",
    ("storage/migrations/versions/0002_status_counts.py",
     'op.execute(f"DROP TRIGGER dialer_cc_counts_{name}")'):
        "DDL in a migration: name runs over the constant tuple ('ins', 'upd', 'del')",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    source: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.source}"


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path, self.lines = path, source.splitlines()
        self.findings: list[Finding] = []
        self.scopes: list[dict[str, list[ast.expr]]] = []

    # --- where names come from ----------------------------------------------------------

    @staticmethod
    def _assignments(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
        """Every ``name = …`` in ``body``, not looking into nested functions or classes."""
        found: dict[str, list[ast.expr]] = {}
        stack: list[ast.AST] = list(body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda)):
                continue
            stack.extend(ast.iter_child_nodes(node))
            pairs: list[tuple[ast.expr, ast.expr]] = []
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                pairs = [(node.target, node.value)]
            elif isinstance(node, ast.AugAssign):  # x += y: x is built from y
                pairs = [(node.target, ast.BinOp(left=node.target, op=node.op,
                                                  right=node.value))]
            for target, value in pairs:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(value)
        return found

    def visit_Module(self, node: ast.Module) -> None:
        self.scopes.append(self._assignments(node.body))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scopes.append(self._assignments(node.body))
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _resolve(self, name: str) -> list[ast.expr]:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return []

    # --- what is dynamic -------------------------------------------------------------------

    def _dynamic(self, node: ast.expr, seen: frozenset[str] = frozenset()) -> str | None:
        """Why ``node`` is SQL built at run time, or None when it is not."""
        if isinstance(node, ast.JoinedStr):
            if any(isinstance(v, ast.FormattedValue) for v in node.values):
                return "f-string"
            return None
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mod):
                return "%-formatting"
            if isinstance(node.op, ast.Add):
                if self._literal(node.left, seen) and self._literal(node.right, seen):
                    return None
                return "concatenation with a non-literal"
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format":
                return ".format()"
            if node.func.attr == "join" and not all(self._literal(a, seen)
                                                    for a in node.args):
                return ".join() of non-literals"
            return None
        if isinstance(node, ast.IfExp):
            return self._dynamic(node.body, seen) or self._dynamic(node.orelse, seen)
        if isinstance(node, ast.Subscript):
            return self._dynamic(node.value, seen)
        if isinstance(node, ast.Dict):
            for value in node.values:
                why = self._dynamic(value, seen)
                if why:
                    return why
            return None
        if isinstance(node, (ast.List, ast.Tuple)):
            for value in node.elts:
                why = self._dynamic(value, seen)
                if why:
                    return why
            return None
        if isinstance(node, ast.Name) and node.id not in seen:
            for value in self._resolve(node.id):
                why = self._dynamic(value, seen | {node.id})
                if why:
                    return f"{node.id} = {why}"
        return None

    def _literal(self, node: ast.expr, seen: frozenset[str]) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return True
        if isinstance(node, ast.JoinedStr):
            return self._dynamic(node, seen) is None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._literal(node.left, seen) and self._literal(node.right, seen)
        if isinstance(node, (ast.List, ast.Tuple)):
            return all(self._literal(e, seen) for e in node.elts)
        if isinstance(node, ast.Name) and node.id not in seen:
            values = self._resolve(node.id)
            return bool(values) and all(self._literal(v, seen | {node.id}) for v in values)
        return False

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else None
        sql = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in ("statement", "sql", "text")), None)
        if name in SQL_CALLS and sql is not None:
            why = self._dynamic(sql)
            if why:
                self._report(node, why)
        self.generic_visit(node)

    def _report(self, node: ast.Call, why: str) -> None:
        first, last = node.lineno, node.end_lineno or node.lineno
        lines = self.lines[first - 1:last]
        if any(MARKER in line and line.split(MARKER, 1)[1].strip() for line in lines):
            return
        source = " ".join(line.strip() for line in lines)
        if any(path == self.path and snippet in source for path, snippet in ALLOWED):
            return
        self.findings.append(Finding(self.path, first, source[:160], why))


def scan(source: str, path: str = "<memory>") -> list[Finding]:
    """The dynamic SQL calls in one module's source."""
    scanner = _Scanner(path, source)
    scanner.visit(parse(source, filename=path))
    return scanner.findings


def _package_files() -> list[Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 50, "the packages were not found"
    return files


def test_every_package_binds_its_sql_parameters() -> None:
    findings = [f for path in _package_files()
                for f in scan(path.read_text(encoding="utf-8"),
                              path.relative_to(ROOT).as_posix())]
    assert findings == [], "SQL built from run-time values:\n" + "\n".join(map(str, findings))


def test_the_allow_list_has_no_stale_entries() -> None:
    for path, snippet in ALLOWED:
        assert snippet in (ROOT / path).read_text(encoding="utf-8"), (path, snippet)


def test_the_scan_has_reached_the_sql_it_must_check() -> None:
    text = (ROOT / "storage/repos/bulk.py").read_text(encoding="utf-8")
    assert "exec_driver_sql" in text and "text(" in text  # the scan has something to see


@pytest.mark.parametrize("source", [
    'conn.execute(text(f"SELECT * FROM t WHERE a = {a}"))',
    'conn.exec_driver_sql("DELETE FROM t WHERE id = %s" % ident)',
    'session.execute(text("SELECT {}".format(col)))',
    'conn.execute(text("SELECT * FROM t WHERE name = \'" + name + "\'"))',
    'cursor.execute("SELECT " + ", ".join(columns))',
    'def f(a):\n    sql = f"UPDATE t SET a = {a}"\n    conn.execute(text(sql))',
    'SQL = "SELECT * FROM t WHERE id = %d" % 5\ndef f():\n    conn.execute(text(SQL))',
    'def f(x):\n    q = "SELECT 1"\n    q += x\n    raw.executemany(q, rows)',
    'conn.execute(text(BASE[flag] + where))',
    'op.execute(statement=f"DROP TABLE {table}")',
    'conn.execute(text(f"SELECT {a}" if x else "SELECT 1"))',
])
def test_the_scan_catches_sql_built_at_run_time(source: str) -> None:
    assert scan(source), source


@pytest.mark.parametrize("source", [
    'conn.execute(text("SELECT * FROM t WHERE a = :a"), {"a": a})',
    'conn.exec_driver_sql("PRAGMA foreign_keys=ON")',
    'conn.execute(text("SELECT 1 " "FROM t"))',
    'conn.execute(text("SELECT 1 " + "FROM t"))',
    'Q = {True: "SELECT 1", False: "SELECT 2"}\nconn.execute(text(Q[pg]).bindparams(b))',
    'session.execute(select(Contact).where(Contact.phone == phone))',
    'log.info("execute %s" % 1)',  # not an SQL call
    'conn.execute(text(f"SELECT {a}"))  # sql-ok: a is the constant column list',
    'raw.executemany(INSERT, rows)\nINSERT = "INSERT INTO t VALUES (?, ?)"',
])
def test_the_scan_accepts_bound_parameters(source: str) -> None:
    assert scan(source) == [], source
