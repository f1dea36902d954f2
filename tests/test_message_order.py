"""One convention for bilingual messages: the English half first, then `` / `` and the Chinese half
(``must be ≥ 0 / 不能为负数``), as the CLI's errors print them. ``station promise`` and the calendar's
checks put the Chinese half first; every message the code writes is checked here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import qi_station

CJK = re.compile(r"[\u4e00-\u9fff]")
#: not messages: ledger text written into events (kept as the ledger has it) and module / demo prose
NOT_MESSAGES = {
    ("services/importer/run.py", "导入自 "),  # the imported row's note, in every imported request's ledger
    ("devtools/generate/vocab.py", "历史台账补录"),  # the demo ledger's note
}


def _texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal and f-string (its placeholders as ``{}``) that is not a docstring."""
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
    }
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for n in ast.walk(tree):
        if id(n) in docs or id(n) in parts:
            continue
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.append((n.lineno, n.value))
        elif isinstance(n, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in n.values)
            out.append((n.lineno, text))
    return out


def test_english_half_first_everywhere() -> None:
    root = Path(qi_station.__file__).parent
    wrong = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for line, text in _texts(ast.parse(path.read_text(encoding="utf-8"))):
            if " / " not in text:
                continue
            left, right = text.split(" / ", 1)
            if CJK.search(left) and not CJK.search(right) and re.search("[A-Za-z]{3}", right):
                if not any(rel == f and text.startswith(p) for f, p in NOT_MESSAGES):
                    wrong.append(f"{rel}:{line}: {text[:60]}")
    assert wrong == []


def test_station_promise_error_reads_english_then_chinese(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    monkeypatch.setenv("QI_STATION_NOW", "2026-11-30T12:00:00Z")
    out = CliRunner().invoke(app, ["--db", str(db), "station", "promise", "--normal", "0"])
    assert out.exit_code == 2
    line = next(ln for ln in out.output.splitlines() if "--normal" in ln)
    # the field once, then the English half, then the Chinese one (as `error: request not found: … / 找不到需求`)
    assert (
        line
        == "error: --normal: whole working days 1..366 (got '0') / 承诺时限应为 1-366 个工作日的整数 [range]"
    )
