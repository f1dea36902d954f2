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
