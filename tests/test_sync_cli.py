"""The CLI contract for outside scripts: `qi-station hub ...` and `qi-station sync ...`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from test_sync_util import request_input

from qi_station.services import ledger


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env or dict(os.environ),
        timeout=120,
    )


def test_cli_offline_roundtrip(tmp_path: Path) -> None:
    from qi_station.db.session import dispose_all

    url = f"sqlite:///{tmp_path / '中心 hub.db'}"  # non-ASCII path with a space
    r = run("hub", "init", "--database-url", url, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["library"]["added"] > 0  # the demo library by default
    r = run("hub", "add-station", "zb01", "--name", "淄博站", "--database-url", url)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("qie1.ZB01.")
    db = tmp_path / "站点.db"
    env = dict(os.environ, QI_STATION_DB=str(db))
    r = run("sync", "status", "--json", env=env)
    assert r.returncode == 0 and {"hub", "last_success", "pending", "last_error"} <= set(json.loads(r.stdout))
    r = run("sync", "enroll", "--token", token, env=env)
    assert r.returncode == 0, r.stderr
    req = ledger.create_request(db, request_input(1, 1))
    up = tmp_path / "up.zip"
    assert run("sync", "export-bundle", "--out", str(up), env=env).returncode == 0
    assert json.loads(run("sync", "status", "--json", env=env).stdout)["pending"] == 3
    # a tampered copy is refused with a reason, and changes nothing
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(up) as z, zipfile.ZipFile(bad, "w") as w:
        for n in z.namelist():
            d = z.read(n)
            w.writestr(n, d.replace(b"1", b"2", 1) if n == "changes.jsonl" else d)
    r = run("hub", "import-bundle", str(bad), "--database-url", url)
    assert r.returncode != 0 and "tamper" in r.stderr
    r = run("hub", "import-bundle", str(up), "--database-url", url, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "imported"
    r = run("hub", "stations", "--json", "--database-url", url)
    st = json.loads(r.stdout)[0]
    assert st["code"] == "ZB01" and st["acked_oseq"] == 3 and st["enrolled"]
    down = tmp_path / "down.zip"
    assert (
        run("hub", "export-bundle", "--station", "ZB01", "--out", str(down), "--database-url", url).returncode
        == 0
    )
    r = run("sync", "import-bundle", str(down), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pending"] == 0
    # hub assign checks every text by the core's rules before any write (exit 2, the field, the rule)
    for args, field, rule in (
        (("--note", "a\x07b"), "note", "control_char"),
        (("--note", "\x1b]0;PWNED\x07\x1b[2J"), "note", "control_char"),
        (("--expert", "e\x1b[2J"), "expert", "control_char"),
        (("--priority", "hi\x07"), "priority", "control_char"),
        (("--priority", "sky-high"), "priority", "choice"),
        (("--expert", "x"), "expert", "unknown_expert"),
        (("--status", "nowhere"), "status", "choice"),
    ):
        r = run("hub", "assign", req["number"], *args, "--database-url", url)
        assert r.returncode == 2 and f"{field}:" in r.stderr and f"[{rule}]" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    with sqlite3.connect(url.removeprefix("sqlite:///")) as c:
        expert = c.execute("SELECT id FROM expert WHERE NOT deleted ORDER BY id LIMIT 1").fetchone()[0]
        assert c.execute("SELECT h_rev FROM request").fetchone()[0] == 0  # nothing was written
    args = ("--expert", expert, "--priority", "高", "--note", "省局指派\n请跟进")
    assert run("hub", "assign", req["number"], *args, "--database-url", url).returncode == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as c:
        got = c.execute("SELECT hub_expert_id, hub_priority, hub_note FROM request").fetchone()
    assert got == (expert, "high", "省局指派\n请跟进")
    # an enrolled station gets a new token only with --reissue (rebuilding a lost station database)
    r = run("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url)
    assert r.returncode != 0 and "--reissue" in r.stderr
    r = run("hub", "add-station", "ZB01", "--name", "淄博站", "--reissue", "--database-url", url)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1].startswith("qie1.ZB01.")
    assert run("hub", "revoke-station", "ZB01", "--database-url", url).returncode == 0
    up2 = tmp_path / "up2.zip"
    run("sync", "export-bundle", "--out", str(up2), env=env)
    r = run("hub", "import-bundle", str(up2), "--database-url", url)
    assert r.returncode != 0 and "revoked" in r.stderr
    # online sync without enrollment is refused with a reason
    r = run("--db", str(tmp_path / "other.db"), "sync", "--json")  # as JSON on stdout, not plain text
    assert r.returncode != 0 and "enroll" in json.loads(r.stdout)["message"] and r.stderr == ""
    # a hub command on an uninitialised database says so
    r = run("hub", "stations", "--database-url", f"sqlite:///{tmp_path / 'none.db'}")
    assert r.returncode != 0 and "hub init" in r.stderr
    dispose_all()


def test_cli_refuses_plain_http_elsewhere_and_hides_the_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run("hub", "init", "--database-url", url).returncode == 0
    token = run("hub", "add-station", "zb01", "--name", "z", "--database-url", url).stdout.splitlines()[-1]
    env = dict(os.environ, QI_STATION_DB=str(tmp_path / "st.db"))
    r = run("sync", "enroll", "--hub", "http://192.0.2.10:8787", "--token", token, env=env)
    assert r.returncode != 0 and "--insecure-http" in r.stderr and "[insecure_http]" in r.stderr
    assert token.rsplit(".", 1)[1] not in r.stdout + r.stderr
    r = run("hub", "serve", "--database-url", url, "--certfile", str(tmp_path / "x.crt"))
    assert r.returncode != 0 and "--keyfile" in r.stderr


def test_sync_json_prints_a_refusal_as_json(tmp_path: Path) -> None:
    """``sync --json`` refused (not enrolled): a JSON object on stdout with error, field, rule and
    message (as ``request import --json``'s refused rows) instead of the plain text on stderr, and the
    same exit code."""
    env = dict(os.environ, QI_STATION_DB=str(tmp_path / "st.db"))
    assert (
        run(
            "init", "--station-code", "ZB01", "--station-name", "站", "--region", "370100", env=env
        ).returncode
        == 0
    )
    plain = run("sync", env=env)
    r = run("sync", "--json", env=env)
    assert r.returncode == plain.returncode == 2, r.stderr
    got = json.loads(r.stdout)
    assert (got["field"], got["rule"], got["error"], got["exit_code"]) == (
        "sync",
        "not_enrolled",
        "not_enrolled",
        2,
    )
    assert "enroll" in got["message"] and r.stderr == "" and "[not_enrolled]" in plain.stderr
