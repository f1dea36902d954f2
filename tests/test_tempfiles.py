"""Temporary files of the atomic writers (reports ``.tmp``, backups ``.part``): a writer killed with
SIGKILL in the middle leaves its file; the next writer to the same output sweeps it, and never one a
live writer holds (``services.tempfiles``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qi_station.services import tempfiles

pytestmark = pytest.mark.skipif(tempfiles.fcntl is None, reason="POSIX flock")

REPORT_CHILD = """
import sys
from pathlib import Path
from qi_station.reports.writers import atomic_text
out = Path(sys.argv[1])
with atomic_text(out) as f:
    f.write("half a report")
    f.flush()
    tmps = [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    print("WRITING", *tmps, flush=True)
    sys.stdin.readline()  # held here until killed
"""

BACKUP_CHILD = """
import os, sys
from pathlib import Path
from qi_station.services import backup
real = os.chmod
def chmod(p, mode):  # the copy is written, not yet renamed into place: stop here
    if str(p).endswith(".part"):
        print("WRITING", Path(p).name, flush=True)
        sys.stdin.readline()
    real(p, mode)
os.chmod = chmod
backup.backup_db(Path(sys.argv[2]), Path(sys.argv[1]))
"""


def _start(code: str, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert p.stdout is not None
    line = p.stdout.readline()  # the printed mark: the writer is in the middle
    assert line.startswith("WRITING"), line
    return p, line.split()[1:]


def _age(p: Path) -> None:
    past = time.time() - tempfiles.GRACE_SECONDS - 60
    os.utime(p, (past, past))


def _kill(p: subprocess.Popen[str]) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL


def test_a_killed_report_leaves_a_tmp_the_next_report_sweeps(tmp_path: Path) -> None:
    from qi_station.reports.writers import atomic_text

    out = tmp_path / "out" / "report.csv"
    foreign = tmp_path / "out" / ".notes.csv.abcdefgh.tmp"  # another output's: never ours to remove
    p, names = _start(REPORT_CHILD, str(out))
    try:
        tmp = out.parent / names[0]
        assert tmp.is_file()
        _age(tmp)
        foreign.write_text("x", encoding="utf-8")
        _age(foreign)
        # a live writer holds its file: not swept, however old it looks
        assert tempfiles.sweep(out, ".tmp") == []
        assert tmp.exists()
    finally:
        _kill(p)
    assert tmp.exists() and not out.exists()  # SIGKILL: nothing cleaned up
    with atomic_text(out) as f:  # the next report to that name
        f.write("whole report")
    assert out.read_text(encoding="utf-8") == "whole report"
    assert not tmp.exists()
    assert foreign.exists()
    assert [x.name for x in out.parent.iterdir() if x.name.endswith(".tmp")] == [foreign.name]


def test_a_killed_backup_leaves_a_part_the_next_backup_sweeps(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.backup import backup_db
    from qi_station.services.station import init_station

    db = tmp_path / "st.db"
    init_station(open_db(db), code="ZB01")
    out = tmp_path / "bk" / "bk.db"
    out.parent.mkdir()
    p, names = _start(BACKUP_CHILD, str(out), str(db))
    try:
        part = out.parent / names[0]
        assert part.is_file()
        _age(part)
        assert tempfiles.sweep(out, ".part") == []  # the running backup holds it
    finally:
        _kill(p)
    assert part.exists() and not out.exists()
    backup_db(db, out)
    assert out.is_file()
    assert not part.exists()
    assert not [x for x in out.parent.iterdir() if ".part" in x.name]


BUNDLE_CHILD = """
import os, sys
from pathlib import Path
from qi_station.core.errors import ValidationError
from qi_station.sync import bundle, keys
real = os.fsync
def fsync(fd):  # the bundle is written, not yet put in place: say so and wait
    d = Path(sys.argv[1]) if Path(sys.argv[1]).is_dir() else Path(sys.argv[1]).parent
    parts = sorted(p.name for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(".part"))
    print("WRITING", *parts, flush=True)
    sys.stdin.readline()
    real(fd)
os.fsync = fsync
priv, pub = keys.generate()
try:
    got = bundle.write_bundle(sys.argv[1], {"kind": "restore", "to": sys.argv[2]}, [b"{}\\n"], priv,
                              signer_id="hub", public_b64=pub, default_name=sys.argv[2])
    print("WROTE", got, flush=True)
except ValidationError as e:
    print("REFUSED", e.rule, flush=True)
    sys.exit(2)
"""


def _bundle(folder: Path, name: str) -> Path:
    from qi_station.sync import bundle, keys

    priv, pub = keys.generate()
    return bundle.write_bundle(
        folder, {"kind": "restore"}, [b"{}\n"], priv, signer_id="hub", public_b64=pub, default_name=name
    )


def test_a_killed_bundle_export_leaves_a_hidden_part_the_next_export_sweeps(tmp_path: Path) -> None:
    """Outside attacker: killing ``hub export-bundle --restore --out DIR/`` left a visible
    ``syncb_restore_…<uuid>.zip.part`` forever (the next export has another name). Bundles now use the
    shared temp-file rule: a hidden ``.NAME.XXXXXXXX.part`` held by the run, swept by the next export
    to that folder whatever its bundle name; a live export's file is never swept."""
    out = tmp_path / "usb"
    out.mkdir()
    first = "syncb_restore_0_5_ZB01_0193aaaa-0000-7000-8000-000000000001.zip"
    p, names = _start(BUNDLE_CHILD, str(out), first)
    try:
        assert len(names) == 1 and names[0].startswith(f".{first}.") and names[0].endswith(".part")
        part = out / names[0]
        _age(part)
        assert tempfiles.sweep(out / first, ".part") == []  # the running export holds it
    finally:
        _kill(p)
    assert part.exists() and not (out / first).exists()
    assert not [x for x in out.iterdir() if x.name.endswith(".zip.part")]  # nothing visible, ever
    got = _bundle(out, "syncb_restore_0_9_ZB01_0193bbbb-0000-7000-8000-000000000002.zip")
    assert got.is_file() and not part.exists()
    assert [x.name for x in out.iterdir()] == [got.name]


def test_two_bundle_exports_to_one_out_at_once_never_lose_one_silently(tmp_path: Path) -> None:
    """Outside attacker: with a fixed ``--out`` both exports wrote ``NAME.zip.part`` (one temp name for
    every run), both said "wrote" and one was lost; a user's own ``NAME.zip.part`` was overwritten. Now
    each run has its own held temp file; the second to finish is refused (``exists``), the first's bundle
    stands whole, and the user's file is untouched."""
    from qi_station.sync.bundle import read_bundle

    out = tmp_path / "b.zip"
    mine = tmp_path / "b.zip.part"
    mine.write_text("the user's own file", encoding="utf-8")
    a, a_parts = _start(BUNDLE_CHILD, str(out), "A")
    b, b_parts = _start(BUNDLE_CHILD, str(out), "B")
    try:
        assert set(a_parts) < set(b_parts) and mine.name not in b_parts
        assert a.stdin is not None and b.stdin is not None and a.stdout and b.stdout
        a.stdin.write("\n")
        a.stdin.flush()
        assert a.stdout.readline().startswith("WROTE")
        assert a.wait() == 0
        b.stdin.write("\n")
        b.stdin.flush()
        assert b.stdout.readline().split() == ["REFUSED", "exists"]
        assert b.wait() == 2
    finally:
        for p in (a, b):
            if p.poll() is None:
                _kill(p)
    assert read_bundle(out).mbytes  # A's bundle, whole
    assert mine.read_text(encoding="utf-8") == "the user's own file"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["b.zip", "b.zip.part"]
