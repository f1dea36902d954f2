"""The station's staff list (name, role 站长 / 质量管家 / 服务专员) and who signs each event.

Attribution on a shared office PC, not a security boundary: anyone at the keyboard may say who they
are. The list is station-local (never synced); every event carries its operator's name.

:func:`operator_for` is THE rule for the name an event carries, called inside each ledger write
transaction: no staff list keeps the old behaviour (``--operator``, ``QI_STATION_OPERATOR`` or the
login name); one staff member signs by default; with several, the operator must be named and be on
the list; only a 站长 may cancel or correct (:func:`qi_station.core.domain.role_may`).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core import validate as v
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.db import write as w


def staff_roles(conn: Any) -> dict[str, str]:
    """name -> role of the station's staff (sqlite3 or SQLAlchemy connection), in name order."""
    return {
        str(n): str(r) for n, r in w.execute(conn, "SELECT name, role FROM staff ORDER BY name").fetchall()
    }


def list_staff(db: Path) -> list[dict[str, str]]:
    """The staff list: ``[{"name", "role"}]``."""
    from qi_station.db.engine import connect

    conn = connect(db, readonly=True)
    try:
        return [{"name": n, "role": r} for n, r in staff_roles(conn).items()]
    finally:
        conn.close()


def check_role(role: str) -> str:
    code = domain.role_code(role)
    if code is None:
        raise ValidationError(
            "role",
            "choice",
            f"role must be one of {', '.join(domain.ROLE_EN.values())} / 角色应为"
            f"{'、'.join(domain.ROLE_ZH.values())}",
        )
    return code


def add_staff(db: Path, name: str, role: str) -> dict[str, str]:
    from qi_station.db.session import write_session

    name = v.clean_text(name, "operator", required=True)
    code = check_role(role)
    with write_session(db) as s:
        conn = s.connection()
        if name in staff_roles(conn):
            raise ValidationError("name", "unique", f"{name} is already on the staff list / 已在员工名单中")
        w.insert_staff(conn, name, code)
    return {"name": name, "role": code}


def remove_staff(db: Path, name: str) -> None:
    from qi_station.db.session import write_session

    with write_session(db) as s:
        if not w.delete_staff(s.connection(), (name or "").strip()):
            raise NotFoundError("staff", name)


def _names(staff: dict[str, str]) -> str:
    return "、".join(f"{n}({domain.ROLE_ZH[r]})" for n, r in staff.items())


def operator_for(conn: Any, given: str | None, action: str | None = None) -> str:
    """The name an event is signed with (see the module text). ``action``: ``cancel`` or ``correct``
    need a 站长 on a station that keeps a staff list. Raises ValidationError on field ``operator``."""
    name = v.clean_text(given or os.environ.get("QI_STATION_OPERATOR"), "operator")
    staff = staff_roles(conn)
    if not staff:
        return name or _login()
    if not name:
        if len(staff) > 1:
            raise ValidationError(
                "operator",
                "choose",
                f"several staff work here, say who you are (--operator NAME): {_names(staff)} / "
                f"本站有多名员工，请指明操作员（命令行 --operator 姓名；程序中 Ctrl+P 切换操作员）：{_names(staff)}",
            )
        name = next(iter(staff))
    role = staff.get(name)
    if role is None:
        raise ValidationError(
            "operator",
            "staff",
            f"{name} is not on this station's staff list: {_names(staff)} / {name}不在本站员工名单中：{_names(staff)}",
        )
    if action is not None and not domain.role_may(role, action):
        raise ValidationError(
            "operator",
            "head_only",
            f"only a head of station (站长) may {action}; {name} is {domain.ROLE_EN[role]} / "
            f"只有站长可以{'取消' if action == 'cancel' else '更正'}，{name}是{domain.ROLE_ZH[role]}",
        )
    return name


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "operator"


# ---- the TUI's operator, remembered per terminal session ----------------------------------------------
def _session_file() -> Path:
    from qi_station.db.paths import state_dir

    return state_dir() / f"operator-{os.getsid(0)}.txt"


def session_operator() -> str | None:
    """The operator chosen earlier in this terminal session (None: not chosen yet)."""
    try:
        with open(_session_file(), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def remember_operator(name: str) -> None:
    p = _session_file()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(name)
    except OSError:
        pass  # not remembered: the next start asks again
