"""One es-AR catalogue: every key the UI asks for exists, and no screen text bypasses it."""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path

import pytest

from client.i18n import CATALOGUE, ago, t
from shared.phones import PhoneProblem
from shared.roles import Role
from shared.states.job import REQUIRED_FIELDS, JobEvent, JobStatus

ROOT = Path(__file__).resolve().parents[3] / "client"
UI_FILES = sorted([*(ROOT / "ui").glob("*.py"), *(ROOT / "viewmodels").glob("*.py"), ROOT / "app.py"])
# prose: a word, a space, another word (or any accented letter / Spanish punctuation)
PROSE = re.compile(r"[A-Za-zÁÉÍÓÚáéíóúÑñ]{2,}[,.:;!?]? [A-Za-zÁÉÍÓÚáéíóúÑñ]{2,}|[ÁÉÍÓÚáéíóúÑñ¿¡]")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _exempt(tree: ast.AST) -> set[int]:
    """Strings that are not screen text: docstrings, log messages, argparse help, t() keys."""
    out = _docstrings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in LOG_METHODS or name in {"add_argument", "ArgumentParser"} or name == "t":
            for sub in [*node.args, *(k.value for k in node.keywords)]:
                for inner in ast.walk(sub):
                    if isinstance(inner, ast.Constant):
                        out.add(id(inner))
    return out


def _t_keys(tree: ast.AST) -> tuple[list[str], list[str]]:
    """Literal keys of t(...) and the literal prefixes of f-string keys (t(f"event.{e}"))."""
    keys, prefixes = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.append(arg.value)
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                prefixes.append(arg.values[0].value)
    return keys, prefixes


def test_files_are_scanned():
    names = {p.name for p in UI_FILES}
    assert {"login.py", "today.py", "completion.py", "shell.py", "app.py"} <= names


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_key_used_exists(path: Path):
    keys, prefixes = _t_keys(ast.parse(path.read_text()))
    assert [k for k in keys if k not in CATALOGUE] == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in CATALOGUE), prefix


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_hard_coded_text_outside_the_catalogue(path: Path):
    tree = ast.parse(path.read_text())
    exempt = _exempt(tree)
    found = [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in exempt
        and PROSE.search(node.value)
    ]
    assert found == []


def test_the_scan_catches_a_literal():
    tree = ast.parse('import flet as ft\nx = ft.Text("Guardar trabajo")\nlog.info("sent it now")\ny = t("a.b")\n')
    exempt = _exempt(tree)
    flagged = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in exempt and PROSE.search(n.value)
    ]
    assert flagged == ["Guardar trabajo"]


def test_dynamic_families_are_complete():
    for status in JobStatus:
        assert f"status.{status.value}" in CATALOGUE
    for event in JobEvent:
        assert f"event.{event.value}" in CATALOGUE
    for role in Role:
        assert f"role.{role.value}" in CATALOGUE
    for problem in PhoneProblem:
        assert f"phone.{problem.value}" in CATALOGUE
    for groups in REQUIRED_FIELDS.values():
        for group in groups:
            for field in group:
                assert f"field.{field}" in CATALOGUE


def test_t_fills_params_and_shows_missing_keys():
    assert t("sync.pending", count=3) == "3 cambios sin enviar"
    assert t("no.such.key") == "no.such.key"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "recién"), (180, "hace 3 min"), (3 * 3600, "hace 3 h"), (86400, "hace 1 día"), (3 * 86400, "hace 3 días")],
)
def test_ago(seconds, text):
    now = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    assert ago(now - datetime.timedelta(seconds=seconds), now) == text
