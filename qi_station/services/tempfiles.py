"""Temporary files written beside an output and renamed into place (reports, exports, backups), and the
sweep of the ones a killed writer left behind.

A temporary file is ``.<output name>.<8 random characters><suffix>`` in the output's folder (the name
:func:`tempfile.mkstemp` makes), e.g. ``.report.xlsx.k2j4x8qa.tmp`` or ``.bk.db.sscd82m8.part``. While
its writer runs it is *held*: on POSIX the writer keeps an exclusive ``flock`` on it until it is renamed
or removed; the lock goes with the process, so a writer killed with SIGKILL leaves a file nobody holds.
Each writer first sweeps the files of its own output name that nobody holds (:func:`sweep`): only names
of exactly that pattern (and SQLite's ``-journal`` beside one), only regular files, only when the lock
can be taken (no writer holds it) and the file is older than :data:`GRACE_SECONDS` (the instant between
creating a file and locking it). On Windows (no ``flock``; an open file cannot be removed there) a
file is swept once untouched for :data:`STALE_SECONDS` instead, as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: a temporary file younger than this is never swept (it may be between its creation and its lock)
GRACE_SECONDS = 30.0
#: without ``flock`` (Windows): a temporary file untouched this long was left by a killed writer (one
#: being written is touched as it grows)
STALE_SECONDS = 15 * 60


def _pattern(out: Path, suffix: str, name_re: str | None = None) -> re.Pattern[str]:
    name = re.escape(out.name) if name_re is None else f"(?:{name_re})"
    return re.compile(r"\." + name + r"\.[A-Za-z0-9_]{8}" + re.escape(suffix) + r"(-journal)?")


def _free(p: Path) -> bool:
    """Does no writer hold ``p``? (POSIX: its flock can be taken; the caller removes it at once.)"""
    if fcntl is None:
        return False
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a writer holds it
    finally:
        os.close(fd)
    return True


def sweep(out: Path, suffix: str, name_re: str | None = None) -> list[Path]:
    """Remove the temporary files of ``out`` (``suffix``: ``.tmp``, ``.part``) that a killed writer
    left: see the module. ``name_re``: the temporary files of every output name in ``out``'s folder
    that matches this regular expression (a writer whose default names never repeat, e.g. bundles
    named by their id) instead of ``out``'s own. Returns what was removed; anything else is left as it
    is."""
    out = Path(out)
    pat = _pattern(out, suffix, name_re)
    now = time.time()
    gone: list[Path] = []
    try:
        names = sorted(e.name for e in os.scandir(out.parent) if pat.fullmatch(e.name))
    except OSError:
        return gone
    journals = [n for n in names if n.endswith("-journal")]
    for name in [n for n in names if not n.endswith("-journal")] + journals:
        p = out.parent / name
        try:
            st = p.lstat()
            if not p.is_file() or p.is_symlink():
                continue
            age = now - st.st_mtime
            if name.endswith("-journal"):  # SQLite's journal of a temporary file: goes once that file has
                if (out.parent / name[: -len("-journal")]).exists() or age < GRACE_SECONDS:
                    continue
                if fcntl is None and age < STALE_SECONDS:
                    continue
            elif fcntl is None:
                if age < STALE_SECONDS:
                    continue
            elif age < GRACE_SECONDS or not _free(p):
                continue
            p.unlink()
            gone.append(p)
        except OSError:
            continue  # another run's, or not ours to remove: left as it is
    return gone


@contextlib.contextmanager
def held_temp(out: Path, suffix: str, sweep_re: str | None = None) -> Iterator[Path]:
    """A new temporary file beside ``out``, held for as long as the block runs (after the stale ones of
    ``out`` were swept, and those of every name matching ``sweep_re``: :func:`sweep`). The caller writes
    it and renames it over ``out``; whatever is left of it when the block ends (an error) is removed."""
    out = Path(out)
    sweep(out, suffix)
    if sweep_re is not None:
        sweep(out, suffix, sweep_re)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file nobody else has opened: taken at once
    else:  # Windows: a file held open could not be renamed over the output
        os.close(fd)
        fd = -1
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            Path(name).unlink(missing_ok=True)  # renamed into place: nothing left; failed: removed
        if fd >= 0:
            os.close(fd)
