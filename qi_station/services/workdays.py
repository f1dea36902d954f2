"""The station's working-day calendar and its promise in working days, read from the database.

The rule itself (what a working day is, how a promised date is counted) is :mod:`qi_station.core.workdays`;
this module only reads the ``holiday`` table and the ``promise_workdays:*`` settings (sqlite3 or
SQLAlchemy connection alike, through :mod:`qi_station.db.sqlexec`) and saves the settings.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core.errors import ValidationError
from qi_station.core.workdays import Calendar, Promise, check_promise_days, promise_date
from qi_station.db.kvkeys import PROMISE_WORKDAYS
from qi_station.db.sqlexec import execute


def load_calendar(conn: Any) -> Calendar:
    """The holiday calendar in this database (every year it holds)."""
    rows = execute(conn, "SELECT day, kind FROM holiday").fetchall()
    years = execute(conn, "SELECT DISTINCT year FROM holiday").fetchall()
    return Calendar.of(((str(r[0]), str(r[1])) for r in rows), (int(y[0]) for y in years))


def calendar_years(conn: Any) -> list[dict[str, Any]]:
    """Each year the calendar covers: days off, worked weekend days."""
    rows = execute(
        conn,
        "SELECT year, SUM(CASE WHEN kind = 'off' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN kind = 'work' THEN 1 ELSE 0 END) FROM holiday GROUP BY year ORDER BY year",
    ).fetchall()
    return [{"year": int(r[0]), "off": int(r[1]), "work": int(r[2])} for r in rows]


def load_promises(conn: Any) -> dict[str, int]:
    """This station's promise in working days by urgency (defaults ``domain.PROMISE_WORKDAYS``)."""
    out = dict(domain.PROMISE_WORKDAYS)
    for k, v in execute(
        conn, "SELECT k, v FROM kv WHERE k LIKE :p", {"p": f"{PROMISE_WORKDAYS}%"}
    ).fetchall():
        u = str(k)[len(PROMISE_WORKDAYS) :]
        if u in out:
            try:
                out[u] = check_promise_days(v, u)
            except ValidationError:
                pass  # a hand-edited bad value: the default stands
    return out


def promise_for(conn: Any, received: date, urgency: str) -> Promise:
    """THE promised date of a request received on ``received`` (the rule: ``core.workdays.promise_date``
    with this station's calendar and its promise for ``urgency``)."""
    return promise_date(load_calendar(conn), received, load_promises(conn)[urgency])


def set_promises(db: Path, normal: Any = None, urgent: Any = None) -> dict[str, int]:
    """Save this station's promise (working days) for the urgencies given; returns all of them."""
    from qi_station.core.validate import Checks
    from qi_station.db.session import write_session

    c = Checks()  # both bad values reported at once
    given = {
        u: c.run(check_promise_days, n, f"--{u}")
        for u, n in (("normal", normal), ("urgent", urgent))
        if n is not None
    }
    c.done()
    with write_session(db) as s:
        conn = s.connection()
        if given:
            from qi_station.db import write

            write.set_promise_workdays(conn, given)
        return load_promises(conn)


def promise_settings(db: Path) -> dict[str, Any]:
    """What the form and ``station promise`` show: the promises and the years the calendar covers."""
    from qi_station.db.engine import connect, open_db

    conn = connect(open_db(db))
    try:
        return {"promise_workdays": load_promises(conn), "calendar_years": calendar_years(conn)}
    finally:
        conn.close()


def promise_context(db: Path) -> tuple[Calendar, dict[str, int]]:
    """The calendar and the promises, for a form that shows the default promised date as it is typed
    (it then calls ``core.workdays.promise_date`` itself: the same rule ``promise_for`` applies)."""
    from qi_station.db.engine import connect, open_db

    conn = connect(open_db(db), readonly=True)
    try:
        return load_calendar(conn), load_promises(conn)
    finally:
        conn.close()
