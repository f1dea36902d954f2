"""Files are never overwritten by mistake (issue 12 item 5): every --out refuses a database and any file of
another kind (an existing file of the same kind only with --force); restore refuses what it must not
restore, before anything is replaced. One rule: qi_station.services.files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError
from qi_station.services import files, ledger

USCC = "91350100M000100Y43"


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "QI_STATION_OPERATOR": "测试员"},
        timeout=120,
    )


def digest(p: Path) -> str:
    """A file's bytes; a database's content (its file changes when the WAL is checkpointed)."""
    if files.sniff(p) in ("station-db", "backup"):
        c = sqlite3.connect(p)
        try:
            # every table's rows (iterdump cannot read the contentless FTS5 search index; its shadow
            # tables, ordinary tables, carry what it holds)
            h = hashlib.sha256()
            for (name,) in c.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
            ):
                h.update(name.encode())
                for row in sorted(map(repr, c.execute(f'SELECT * FROM "{name}"'))):
                    h.update(row.encode())
            return h.hexdigest()
        finally:
            c.close()
    return hashlib.sha256(p.read_bytes()).hexdigest()


def add(db: Path, title: str = "压力表校准") -> dict:
    from qi_station.db.engine import open_db

    open_db(db)
    return ledger.create_request(
        db,
        ledger.RequestInput(enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title=title),
    )


def refused(p: subprocess.CompletedProcess[str], field: str, rule: str) -> None:
    assert p.returncode == 2, p.stderr
    assert f"error: {field}:" in p.stderr and f"[{rule}]" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_sniff_kinds(db: Path, tmp_path: Path) -> None:
    add(db)
    assert files.sniff(db) == "station-db"
    assert files.sniff(tmp_path / "none") is None
    assert files.sniff(tmp_path) == "directory"
    (tmp_path / "e").write_bytes(b"")
    assert files.sniff(tmp_path / "e") == "empty"
    (tmp_path / "t.csv").write_text("\ufeffa,b\r\n", encoding="utf-8")
    assert files.sniff(tmp_path / "t.csv") == "csv"
    (tmp_path / "t.json").write_text("{}", encoding="utf-8")
    assert files.sniff(tmp_path / "t.json") == "json"
    (tmp_path / "t.md").write_text("# x\n", encoding="utf-8")
    assert files.sniff(tmp_path / "t.md") == "md"
    (tmp_path / "t.txt").write_text("hello\n", encoding="utf-8")
    assert files.sniff(tmp_path / "t.txt") == "text"
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02")
    assert files.sniff(tmp_path / "b.bin") == "binary"
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("a", "b")
    assert files.sniff(tmp_path / "z.zip") == "zip"
    other = sqlite3.connect(tmp_path / "o.sqlite")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    assert files.sniff(tmp_path / "o.sqlite") == "sqlite"


@pytest.mark.parametrize("kind", ["xlsx", "csv", "json", "md", "bundle", "backup"])
def test_check_out_rules(db: Path, tmp_path: Path, kind: str) -> None:
    add(db)
    with pytest.raises(ValidationError) as ei:
        files.check_out(db, kind, force=True)
    assert (ei.value.field, ei.value.rule) == ("out", "sqlite_database")
    with pytest.raises(ValidationError) as ei:
        files.check_out(db.with_name(db.name + "-wal"), kind, force=True, protect=(db,))
    assert ei.value.rule == "own_database"
    txt = tmp_path / "notes.txt"
    txt.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        files.check_out(txt, kind, force=True)
    assert ei.value.rule == "other_kind" and "text file" in ei.value.message
    with pytest.raises(ValidationError) as ei:
        files.check_out(tmp_path, kind)
    assert ei.value.rule == "not_directory"
    assert files.check_out(tmp_path, kind, default_name="x") == tmp_path / "x"
    assert files.check_out(tmp_path / "new", kind) == tmp_path / "new"


def test_report_out_refuses_the_station_database_and_other_files(db: Path, tmp_path: Path) -> None:
    add(db)
    before = digest(db)
    for fmt in ("csv", "xlsx", "json", "md"):
        refused(
            run(db, "report", "monthly", "--format", fmt, "--out", str(db), "--force"), "out", "own_database"
        )
    other = tmp_path / "other.db"
    add(other)
    refused(run(db, "report", "monthly", "--out", str(other), "--force"), "out", "sqlite_database")
    assert digest(db) == before
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n", encoding="utf-8")
    refused(
        run(db, "report", "monthly", "--format", "csv", "--out", str(notes), "--force"), "out", "other_kind"
    )
    assert notes.read_text(encoding="utf-8") == "keep me\n"
    out = tmp_path / "r.csv"
    assert run(db, "report", "monthly", "--format", "csv", "--out", str(out)).returncode == 0
    refused(run(db, "report", "monthly", "--format", "csv", "--out", str(out)), "out", "exists")
    refused(
        run(db, "report", "monthly", "--format", "xlsx", "--out", str(out), "--force"), "out", "other_kind"
    )
    p = run(db, "report", "monthly", "--format", "csv", "--out", str(out), "--force")
    assert p.returncode == 0, p.stderr
    d = tmp_path / "reports"
    d.mkdir()
    p = run(db, "report", "monthly", "--format", "xlsx", "--out", str(d))
    assert p.returncode == 0, p.stderr
    written = Path(p.stdout.strip())
    assert written.parent == d and files.sniff(written) == "xlsx"


def test_backup_out_rules(db: Path, tmp_path: Path) -> None:
    add(db)
    before = digest(db)
    refused(run(db, "backup", "--out", str(db), "--force"), "out", "own_database")
    d = tmp_path / "bk"
    d.mkdir()
    p = run(db, "backup", "--out", str(d))
    assert p.returncode == 0, p.stderr
    made = list(d.iterdir())
    assert len(made) == 1 and made[0].name.startswith("qi-backup-") and files.sniff(made[0]) == "backup"
    refused(run(db, "backup", "--out", str(made[0])), "out", "exists")
    assert run(db, "backup", "--out", str(made[0]), "--force").returncode == 0
    assert [x.name for x in d.iterdir()] == [made[0].name]  # no .part file left
    other = tmp_path / "other.db"
    add(other)  # another live (WAL) station database
    refused(run(db, "backup", "--out", str(other), "--force"), "out", "sqlite_database")
    assert digest(db) == before


def test_export_bundle_never_writes_over_a_database(tmp_path: Path) -> None:
    from qi_station.sync.bundle import write_bundle
    from qi_station.sync.keys import generate

    db = tmp_path / "s.db"
    add(db)
    before = digest(db)
    priv, pub = generate()
    for force in (False, True):
        with pytest.raises(ValidationError) as ei:
            write_bundle(db, {}, [], priv, signer_id="X", public_b64=pub, force=force)
        assert ei.value.rule == "sqlite_database"
    assert digest(db) == before
    b = write_bundle(tmp_path, {}, [b"x\n"], priv, signer_id="X", public_b64=pub, default_name="b.zip")
    assert files.sniff(b) == "bundle"
    with pytest.raises(ValidationError):
        write_bundle(b, {}, [], priv, signer_id="X", public_b64=pub)
    assert write_bundle(b, {}, [], priv, signer_id="X", public_b64=pub, force=True) == b


def _hub_db(tmp_path: Path) -> Path:
    from qi_station.sync.hub.store import Hub

    p = tmp_path / "hub.db"
    Hub(f"sqlite:///{p}").init(demo=False)
    return p


def test_restore_refuses_another_stations_backup_on_an_enrolled_station(tmp_path: Path) -> None:
    """Outside attacker: a station enrolled with a hub but with no request yet took another station's
    backup (exit 0, "ledger check: intact") and could never sync again. Enrolled is an identity too."""
    from qi_station.db import secrets

    other = tmp_path / "other.db"
    assert (
        run(
            other, "init", "--station-code", "QD02", "--station-name", "青岛站", "--region", "370200"
        ).returncode
        == 0
    )
    add(other)
    ob = tmp_path / "other.bak"
    assert run(other, "backup", "--out", str(ob)).returncode == 0
    mine = tmp_path / "mine.db"
    assert (
        run(
            mine, "init", "--station-code", "ZB01", "--station-name", "淄博站", "--region", "370300"
        ).returncode
        == 0
    )
    secrets.save(mine, api_token="enrolled-with-the-hub")
    before = digest(mine)
    p = run(mine, "restore", str(ob))
    refused(p, "file", "other_station")
    assert "QD02" in p.stderr and "ZB01" in p.stderr
    assert digest(mine) == before


def test_backup_sweeps_what_a_killed_backup_left(db: Path, tmp_path: Path) -> None:
    """Outside attacker: a kill -9 during `backup` left `.NAME.XXXX.part` and its `-journal` for good.
    The next backup to that name removes the ones untouched for a while; a fresh one (a backup being
    written now) is left alone."""
    import os
    import time

    from qi_station.services.backup import STALE_PART_SECONDS

    assert (
        run(db, "init", "--station-code", "ZB01", "--station-name", "淄博站", "--region", "370300").returncode
        == 0
    )
    out = tmp_path / "kb" / "bk.db"
    out.parent.mkdir()
    old = [out.parent / ".bk.db.sscd82m8.part", out.parent / ".bk.db.sscd82m8.part-journal"]
    fresh = out.parent / ".bk.db.abcd1234.part"
    other = out.parent / ".notes.txt.zz.part"
    for f in (*old, fresh, other):
        f.write_bytes(b"x" * 100)
    past = time.time() - STALE_PART_SECONDS - 60
    for f in (*old, other):
        os.utime(f, (past, past))
    assert run(db, "backup", "--out", str(out)).returncode == 0
    assert out.is_file()
    assert not any(f.exists() for f in old)
    assert fresh.exists() and other.exists()


def test_restore_refuses_hub_other_station_and_newer_schema(db: Path, tmp_path: Path) -> None:
    from qi_station.db.session import dispose_all

    run(db, "init", "--station-code", "ZB01", "--station-name", "淄博站", "--region", "370300")
    add(db)
    dispose_all()
    before = digest(db)
    hub = _hub_db(tmp_path)
    refused(run(db, "restore", str(hub)), "file", "hub_database")
    other = tmp_path / "other.db"
    assert (
        run(
            other, "init", "--station-code", "QD02", "--station-name", "青岛站", "--region", "370200"
        ).returncode
        == 0
    )
    add(other)
    ob = tmp_path / "other.bak"
    assert run(other, "backup", "--out", str(ob)).returncode == 0
    p = run(db, "restore", str(ob))
    refused(p, "file", "other_station")
    assert "QD02" in p.stderr
    mine = tmp_path / "mine.bak"
    assert run(db, "backup", "--out", str(mine)).returncode == 0
    newer = tmp_path / "newer.bak"
    newer.write_bytes(mine.read_bytes())
    c = sqlite3.connect(newer)
    c.execute("UPDATE alembic_version SET version_num = '9999'")
    c.commit()
    c.close()
    p = run(db, "restore", str(newer))
    refused(p, "file", "newer_schema")
    notes = tmp_path / "notes.txt"
    notes.write_text("x", encoding="utf-8")
    p = run(db, "restore", str(notes))
    refused(p, "file", "qi_station_db")
    assert "text file" in p.stderr
    assert digest(db) == before
    assert not db.with_name(db.name + ".before-restore").exists()
    # two good restores: the first copy is kept, the second gets a number
    assert run(db, "restore", str(mine)).returncode == 0
    first = db.with_name(db.name + ".before-restore")
    kept = digest(first)
    p = run(db, "restore", str(mine))
    assert p.returncode == 0, p.stderr
    assert digest(first) == kept and db.with_name(db.name + ".before-restore.1").is_file()


def test_request_list_on_a_hub_database_is_refused_before_anything_touches_it(tmp_path: Path) -> None:
    """``request list`` checks ``--db`` on the connection it then queries (one open, issue 13): a hub's
    database is refused before the station pragmas run (``journal_mode=WAL`` would rewrite its header)."""
    from qi_station.sync.hub.store import Hub

    hub = _hub_db(tmp_path)
    Hub(f"sqlite:///{hub}").dispose()  # its pooled connections closed
    c = sqlite3.connect(hub)
    assert c.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    c.close()
    before = hub.read_bytes()
    refused(run(hub, "request", "list", "--json"), "db", "hub_database")
    assert hub.read_bytes() == before
    c = sqlite3.connect(hub)
    try:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        c.close()


def test_restore_keeps_only_the_newest_safety_copies(tmp_path: Path) -> None:
    """Outside attacker: every ``restore`` (a killed one too) kept another full
    ``<db>.before-restore.N``; they piled up. Now the newest ``KEEP_SAFETY_COPIES`` (3) are kept, each
    new one numbered above the highest (so the highest is the newest), never overwriting one."""
    from qi_station.db.engine import open_db
    from qi_station.services import backup
    from qi_station.services.station import init_station

    db = tmp_path / "st.db"
    init_station(open_db(db), code="ZB01")
    bak = backup.backup_db(db, tmp_path / "bk.db")
    base = db.with_name(db.name + backup.SAFETY_SUFFIX)
    # copies a killed restore left (its copy made, the restore itself never ran)
    for n in ("", ".1", ".7"):
        base.with_name(base.name + n).write_bytes(db.read_bytes())
    notes = tmp_path / "st.db.before-restore.notes"  # not a copy: never touched
    notes.write_text("mine", encoding="utf-8")
    kept, _ = backup.restore_db(bak, db)
    assert kept == base.with_name(base.name + ".8")
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("st.db.before-restore"))
    assert names == ["st.db.before-restore.1", "st.db.before-restore.7", "st.db.before-restore.8", notes.name]
    for _ in range(3):
        kept, _ = backup.restore_db(bak, db)
    assert kept is not None and kept.name == "st.db.before-restore.11"
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("st.db.before-restore"))
    assert names == [f"st.db.before-restore.{n}" for n in (10, 11, 9)] + [notes.name]
    assert notes.read_text(encoding="utf-8") == "mine"


def test_an_export_name_of_punctuation_only_is_refused(tmp_path: Path) -> None:
    """``[`` (a month key typed over 导出到) or ``-.xlsx`` is no file name: refused by the one rule,
    naming the field and the rule; a Chinese name is a name."""
    import pytest

    from qi_station.core.errors import ValidationError
    from qi_station.services.files import export_path

    for bad in ("[", "]", "-.xlsx", "【】.csv"):
        with pytest.raises(ValidationError) as e:
            export_path(bad, "d.xlsx", "xlsx", base=tmp_path)
        assert e.value.field == "out" and e.value.rule == "no_name" and "导出到" in e.value.message
    assert export_path("月报", "d.xlsx", "xlsx", base=tmp_path) == tmp_path / "月报.xlsx"
