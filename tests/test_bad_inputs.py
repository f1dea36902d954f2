"""The bad-input catalogue (issue 12 item 7): a table of bad inputs over the CLI and the hub API, each with
its expected refusal -- exit 2 naming the field (CLI), a 4xx (hub) -- and never a traceback or a 5xx.
Plus the attacker's finds: a 5-digit region, a refused `init` that still created its database, and a
closed pipe (`request list | head -1`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qi_station.services import ledger

USCC = "91350100M000100Y43"
HUGE = ("9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+05:00", "99999-01-01", "2026-02-30T00:00:00")


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, str]]:
    """The Typer app and a station database holding one new request."""
    from qi_station.cli.commands import app
    from qi_station.db.engine import open_db

    db = open_db(tmp_path_factory.mktemp("bad") / "station.db")
    r = ledger.create_request(
        db,
        ledger.RequestInput(enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title="校准"),
    )
    yield app, db, r["number"]


ADD = ["request", "add", "--enterprise", "济南示例机械有限公司", "--elements", "metrology", "--title", "校准"]


def add(*extra: str, uscc: str = USCC) -> list[str]:
    return [*ADD, "--uscc", uscc, *extra]


# (arguments, the field named in the refusal); "{n}" is the request's number, "{db}" the database
CLI_CASES: list[tuple[list[str], str]] = [
    (add(uscc="9135010"), "uscc"),
    (add(uscc="91350100M000100Y44"), "uscc"),
    (add(uscc="91350100M0001O0Y43"), "uscc"),
    (add(uscc="91ABCDEFM000100Y43"), "uscc"),
    (add("--channel", "fax"), "channel"),
    (add("--urgency", "asap"), "urgency"),
    (add("--promised", "2026-13-01"), "promised"),
    (add("--promised", "2001-01-01", "--received-at", "2026-01-05T09:00:00"), "promised"),
    (add("--received-at", "yesterday"), "received_at"),
    (add("--received-at", "2999-01-01T00:00:00"), "received_at"),
    (add("--received-at", "1999-12-31T00:00:00"), "received_at"),
    *[(add("--received-at", h), "received_at") for h in HUGE],
    (add("--phone", "abc"), "phone"),
    (add("--phone", "1" * 40), "phone"),
    (add("--contact", "x" * 500), "contact"),
    (add("--description", "x" * 100_000), "description"),
    ([*ADD[:-2], "--title", "", "--uscc", USCC], "title"),
    ([*ADD[:-2], "--title", "x" * 101, "--uscc", USCC], "title"),
    ([*ADD[:-2], "--title", "a\x00b", "--uscc", USCC], "title"),
    ([*ADD[:-4], "--elements", "magic", "--title", "t", "--uscc", USCC], "elements"),
    ([*ADD[:-4], "--elements", "", "--title", "t", "--uscc", USCC], "elements"),
    ([*ADD[:2], "--enterprise", "", *ADD[4:], "--uscc", USCC], "enterprise"),
    (["request", "move", "{n}", "hacked"], "status"),
    (["request", "move", "{n}", "resolved", "--result", "ok"], "status"),
    (["request", "move", "{n}", "closed", "--satisfaction", "5"], "status"),
    (["request", "move", "{n}", "accepted", "--satisfaction", "9"], "satisfaction"),
    (["request", "move", "{n}", "accepted", "--cost-saved", "1e400"], "cost_saved"),
    (["request", "move", "{n}", "accepted", "--cost-saved", "-1"], "cost_saved"),
    (["request", "move", "{n}", "accepted", "--cost-saved", "NaN"], "cost_saved"),
    (["request", "move", "{n}", "accepted", "--result", "done"], "result"),
    (["request", "move", "{n}", "accepted", "--at", "soon"], "at"),
    (["request", "move", "{n}", "accepted", "--at", "2999-01-01T00:00:00"], "at"),
    (["request", "move", "{n}", "accepted", "--at", "2000-01-01T00:00:00"], "at"),
    *[(["request", "move", "{n}", "accepted", "--at", h], "at") for h in HUGE],
    (["request", "move", "NO-SUCH-1", "accepted"], "request"),
    (["request", "note", "{n}", ""], "note"),
    (["request", "note", "{n}", "x" * 100_000], "note"),
    (["request", "note", "NO-SUCH-1", "hello"], "request"),
    (["request", "note", "{n}", "hello", "--at", "9999-12-31T23:00:00-10:00"], "at"),
    (["request", "refer", "{n}", "--expert", "nobody"], "expert"),
    (["request", "show", "NO-SUCH-1"], "request"),
    (["request", "list", "--month", "2026-13"], "month"),
    (["request", "list", "--month", "99999-01"], "month"),
    (["report", "monthly", "--month", "13-2026"], "month"),
    (["report", "monthly", "--month", "0000-01"], "month"),
    (["report", "monthly", "--month", ""], "month"),  # outside attacker: wrote the default month's report
    (["report", "monthly", "--month", " "], "month"),
    (["report", "monthly", "--format", "pdf"], "format"),
    (["report", "monthly", "--format", "csv", "--out", "{db}"], "out"),
    (["backup", "--out", "{db}"], "out"),
    (["restore", "{db}.missing"], "file"),
    (["restore", "{db}"], "file"),
    (["init", "--region", "37010"], "region"),
    (["init", "--region", "3701000"], "region"),
    (["init", "--region", "110000"], "region"),
    # full-width digits are read as ASCII (core.domain.typed, NFKC); other scripts' digits are not digits here
    (["init", "--region", "٣٧٠١٠٠"], "region"),
    (["init", "--station-code", "济南站"], "station_code"),
    (["init", "--station-type", "spaceport"], "station_type"),
    (["init", "--station-name", ""], "station_name"),
]


@pytest.mark.parametrize(
    ("args", "field"), CLI_CASES, ids=[f"{i:02}-{c[1]}" for i, c in enumerate(CLI_CASES)]
)
def test_cli_refuses_bad_input(cli_db: tuple[Any, Path, str], args: list[str], field: str) -> None:
    from typer.testing import CliRunner

    app, db, number = cli_db
    argv = ["--db", str(db), *(a.replace("{n}", number).replace("{db}", str(db)) for a in args)]
    before = db.stat().st_size, _counts(db)
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 2, (res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    if field in ("request", "expert"):
        assert "not found" in res.output
    else:
        assert f"error: {field}:" in res.output, res.output
    assert _counts(db) == before[1]  # a refused input writes nothing


def _counts(db: Path) -> tuple[int, ...]:
    import sqlite3

    c = sqlite3.connect(db)
    try:
        return tuple(
            c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("request", "request_event", "outbox")
        )
    finally:
        c.close()


# ---- the hub API ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hub_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, dict[str, str], dict[str, str], str]]:
    from fastapi.testclient import TestClient

    from qi_station.db.engine import SCHEMA_HEAD
    from qi_station.sync import keys
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.proto import PROTOCOL

    d = tmp_path_factory.mktemp("bad_hub")
    hub = Hub(f"sqlite:///{d / 'hub.db'}")
    try:
        hub.init(demo=False)
        enroll = hub.add_station("ZB01", "淄博")["token"]
        priv, pub = keys.generate()
        from qi_station.sync.proto import enroll_key_message

        token = hub.enroll(enroll, pub, key_proof=keys.sign(priv, enroll_key_message("ZB01", pub)))[
            "api_token"
        ]
        versions = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
        with TestClient(create_app(hub.url), raise_server_exceptions=False) as client:
            yield client, versions, {"Authorization": f"Bearer {token}"}, priv
    finally:
        hub.dispose()


def _push(batch: Any) -> dict[str, Any]:
    return {"json": {"batch": batch}}


ROW = {"oseq": 1, "table": "request", "op": "upsert", "row": {}}
# (method, path, request kwargs, use the station's token, expected status)
HUB_CASES: list[tuple[str, str, dict[str, Any], bool, int]] = [
    ("POST", "/sync/v1/push", _push([]), False, 401),
    ("POST", "/sync/v1/push", {**_push([]), "headers": {"Authorization": "Bearer nope"}}, False, 401),
    ("POST", "/sync/v1/push", {"headers": {"Authorization": "Basic eA=="}, **_push([])}, False, 401),
    (
        "POST",
        "/sync/v1/push",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        True,
        422,
    ),
    (
        "POST",
        "/sync/v1/push",
        {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
        True,
        422,
    ),
    ("POST", "/sync/v1/push", {"json": []}, True, 422),
    ("POST", "/sync/v1/push", {"json": {"batch": "x"}}, True, 422),
    ("POST", "/sync/v1/push", _push([{**ROW, "oseq": 0}]), True, 422),
    ("POST", "/sync/v1/push", _push([{**ROW, "oseq": 10**30}]), True, 422),
    ("POST", "/sync/v1/push", _push([{**ROW, "table": "x" * 100}]), True, 422),
    ("POST", "/sync/v1/push", _push([{**ROW, "row": "not a row"}]), True, 422),
    ("POST", "/sync/v1/push", {"json": {"batch": [], "station_now_ms": 10**40}}, True, 422),
    ("POST", "/sync/v1/push", _push([ROW] * 5001), True, 422),
    ("GET", "/sync/v1/pull?since=-1", {}, True, 422),
    ("GET", "/sync/v1/pull?since=abc", {}, True, 422),
    ("GET", "/sync/v1/pull?limit=0", {}, True, 422),
    ("GET", "/sync/v1/pull?since=99999999999999999999999999", {}, True, 422),
    ("GET", "/sync/v1/pull", {}, False, 401),
    ("GET", "/sync/v1/restore?table=" + "x" * 41, {}, True, 422),
    ("GET", "/sync/v1/restore", {}, True, 422),
    ("POST", "/sync/v1/enroll", {"json": {"token": "x" * 401, "pubkey": "y"}}, False, 422),
    (
        "POST",
        "/sync/v1/enroll",
        {"content": b"[", "headers": {"Content-Type": "application/json"}},
        False,
        422,
    ),
    ("POST", "/sync/v1/enroll", {"json": {"token": "qie1.ZB01.forged", "pubkey": "y"}}, False, 400),
    ("POST", "/sync/v1/prove", {"json": {"nonce": "short"}}, False, 422),
    (
        "POST",
        "/sync/v1/prove",
        {"content": b"null", "headers": {"Content-Type": "application/json"}},
        False,
        422,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kw", "authed", "status"),
    HUB_CASES,
    ids=[f"{i:02}-{c[1].rsplit('/', 1)[-1][:20]}-{c[4]}" for i, c in enumerate(HUB_CASES)],
)
def test_hub_refuses_bad_input(
    hub_client: tuple[Any, dict[str, str], dict[str, str], str],
    method: str,
    path: str,
    kw: dict[str, Any],
    authed: bool,
    status: int,
) -> None:
    import json
    import secrets
    import time

    from qi_station.sync import keys
    from qi_station.sync.proto import STATION_SIGNED_PATHS, call_message

    client, versions, auth, priv = hub_client
    headers = {**versions, **(auth if authed else {}), **kw.get("headers", {})}
    kw = {k: v for k, v in kw.items() if k != "headers"}
    bare, _, query = path.partition("?")
    if authed and bare in STATION_SIGNED_PATHS:  # signed by the station's key: the call's own rules refuse
        raw = b""
        if method == "POST":
            raw = kw.pop("content") if "content" in kw else json.dumps(kw.pop("json")).encode("utf-8")
            kw["content"] = raw
            headers = {"Content-Type": "application/json", **headers}
        nonce, when = secrets.token_urlsafe(18), time.time_ns() // 1_000_000
        msg = call_message("ZB01", method, bare, query, when, nonce, raw)
        headers = {
            **headers,
            "X-Station-Signature": keys.sign(priv, msg),
            "X-Station-Time": str(when),
            "X-Sync-Nonce": nonce,
        }
    res = client.request(method, path, **kw, headers=headers)
    assert res.status_code == status, res.text[:300]
    assert res.status_code < 500


# ---- the attacker's finds ------------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "QI_STATION_OPERATOR": "测试员"},
        timeout=120,
    )


def test_refused_init_creates_no_database(tmp_path: Path) -> None:
    for bad in (["--region", "37010"], ["--station-code", "济南"], ["--station-type", "x"]):
        db = tmp_path / "new.db"
        p = run("--db", str(db), "init", *bad)
        assert p.returncode == 2, p.stderr
        assert not db.exists() and list(tmp_path.iterdir()) == []
    p = run("--db", str(tmp_path / "ok.db"), "init", "--region", "370102")
    assert p.returncode == 0, p.stderr


def test_closed_pipe_is_quiet(db: Path) -> None:
    for i in range(300):
        ledger.create_request(
            db,
            ledger.RequestInput(
                enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title=f"t{i}"
            ),
        )
    for extra in ([], ["--json"]):
        p = subprocess.run(
            f"{sys.executable} -m qi_station --db '{db}' request list {' '.join(extra)} | head -c 20",
            shell=True,
            capture_output=True,
            text=True,
            encoding="utf-8",
            executable="/bin/bash",
            timeout=120,
        )
        assert "Broken pipe" not in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert "Exception ignored" not in p.stderr, p.stderr
    p = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m qi_station --db '{db}' request list | head -1; exit ${{PIPESTATUS[0]}}",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1 and "Broken pipe" not in p.stderr
