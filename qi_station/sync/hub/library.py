"""The hub's libraries: import from csv/xlsx/json, upsert with pinyin and search text, tombstones."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core.clock import env_now
from qi_station.core.errors import ValidationError
from qi_station.core.validate import check_control_chars
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import coerce_row, core_table, norm_value, wire_value
from qi_station.sync.proto import LIBRARY_TABLES, SyncError

if TYPE_CHECKING:
    from sqlalchemy import Table

ID_NS = uuid.UUID("5b0c7f5e-7a43-4f0e-9d0a-6a1f2d8c9e11")


class LibraryJobs(HubBase):
    def library_count(self) -> int:
        import sqlalchemy as sa

        n = 0
        with self.engine.connect() as c:
            for t in LIBRARY_TABLES:
                n += int(c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
        return n

    def upsert_library(
        self, rows: list[tuple[str, dict[str, Any]]], *, tombstone_missing: bool = False
    ) -> dict[str, int]:
        """Add/update library rows (rev+1 and a new seq only when something changed); optionally tombstone
        the rows of the same tables that are missing from ``rows``. Pinyin is computed here, on write."""
        import sqlalchemy as sa

        from qi_station.db.searchtext import prepare

        stats = {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        by_table: dict[str, list[dict[str, Any]]] = {}
        for table, r in rows:
            if table not in LIBRARY_TABLES:
                raise SyncError(
                    400,
                    "bad_library",
                    f"unknown library table {table!r} (expert/institution/equipment/project)",
                )
            by_table.setdefault(table, []).append(r)
        now = env_now()
        with self.write() as c:
            written: list[tuple[str, str]] = []
            for table, trows in by_table.items():
                t = core_table(table)
                colnames = [col.key for col in t.columns]
                existing = {
                    r[0]: dict(zip(colnames, r, strict=True))
                    for r in c.execute(sa.select(*[t.c[k] for k in colnames]))
                }
                seen: set[str] = set()
                ins: list[dict[str, Any]] = []
                upd: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # changed columns -> rows
                for raw in trows:
                    r = {
                        k: v
                        for k, v in raw.items()
                        if k in colnames and k not in ("rev", "seq", "updated_at")
                    }
                    name = str(r.get("name") or "").strip()
                    if not name:
                        raise SyncError(400, "bad_library", f"{table}: a row without a name")
                    r["name"] = name
                    for k, v in r.items():  # the hub sends these rows to every station: no control characters
                        if isinstance(v, str):
                            try:
                                check_control_chars(v, k, multiline=k not in ("id", "name"))
                            except ValidationError as e:
                                raise SyncError(
                                    400, "bad_library", f"{table} {name!r}: {e.message}"
                                ) from None
                    rid = str(r.get("id") or uuid.uuid5(ID_NS, f"{table}:{name}"))
                    r["id"] = rid
                    if isinstance(r.get("elements"), list):
                        r["elements"] = json.dumps(r["elements"], ensure_ascii=False)
                    deleted = (
                        bool(raw.get("deleted"))
                        if raw.get("deleted") not in ("", "0", "false", "False", None)
                        else False
                    )
                    r["deleted"] = deleted
                    for k, v in raw.items():  # demo style: cma_expiry_days -> a date relative to today
                        if (
                            k.endswith("_days")
                            and k[:-5] in colnames
                            and isinstance(v, int | float | str)
                            and v not in ("", None)
                        ):
                            from datetime import timedelta

                            from qi_station.core.clock import today_local

                            r[k[:-5]] = (today_local() + timedelta(days=int(float(v)))).isoformat()
                    try:  # pinyin and search text: the one formula, db.searchtext
                        prep = prepare(table, {**r, "elements": r.get("elements") or "[]"})
                    except (TypeError, ValueError) as e:
                        raise SyncError(400, "bad_library", f"{table} {name!r}: {e}") from None
                    r["name_py"], r["name_initials"] = prep["name_py"], prep["name_initials"]
                    r["haystack"], r["haystack_py"] = prep["haystack"], prep["haystack_py"]
                    r = coerce_row(table, {k: wire_value(v) for k, v in r.items()})
                    seen.add(rid)
                    old = existing.get(rid)
                    if old is None:
                        if deleted:
                            continue
                        r.update(rev=1, seq=0, updated_at=now)
                        ins.append(r)
                        stats["added"] += 1
                        written.append((table, rid))
                    else:
                        changed = {k: v for k, v in r.items() if norm_value(old.get(k)) != norm_value(v)}
                        if not changed:
                            stats["unchanged"] += 1
                            continue
                        changed.update(rev=int(old["rev"]) + 1, updated_at=now)
                        upd.setdefault(tuple(sorted(changed)), []).append({**changed, "_rid": rid})
                        stats["deleted" if deleted and not old["deleted"] else "updated"] += 1
                        written.append((table, rid))
                for cols_, params in upd.items():  # one executemany per set of changed columns
                    stmt = (
                        t.update()
                        .where(t.c.id == sa.bindparam("_rid"))
                        .values({k: sa.bindparam(k) for k in cols_})
                    )
                    c.execute(stmt, params)
                if ins:
                    keys_ = [col.key for col in t.columns]  # every column: COPY applies no defaults
                    full = [{k: r.get(k, _default(t, k)) for k in keys_} for r in ins]
                    self.bulk_insert(c, t, full)
                if tombstone_missing:
                    gone = [rid for rid, old in existing.items() if rid not in seen and not old["deleted"]]
                    for rid in gone:
                        c.execute(
                            t.update()
                            .where(t.c.id == rid)
                            .values(deleted=True, rev=int(existing[rid]["rev"]) + 1, updated_at=now)
                        )
                        written.append((table, rid))
                    stats["deleted"] += len(gone)
            self.stamp(c, written)
        return stats

    def delete_library(self, table: str, ids: list[str]) -> int:
        import sqlalchemy as sa

        t = core_table(table)
        n = 0
        with self.write() as c:
            written = []
            for rid in ids:
                r: Any = c.execute(sa.select(t.c.rev, t.c.deleted).where(t.c.id == rid)).first()
                if r is None or r[1]:
                    continue
                c.execute(
                    t.update().where(t.c.id == rid).values(deleted=True, rev=r[0] + 1, updated_at=env_now())
                )
                written.append((table, rid))
                n += 1
            self.stamp(c, written)
        return n

    def import_library(self, path: str | Path, *, partial: bool = False) -> dict[str, int]:
        rows = read_library_file(Path(path))
        return self.upsert_library(rows, tombstone_missing=not partial)


def _default(t: Table, k: str) -> Any:
    col = t.c[k]
    if col.default is not None and getattr(col.default, "is_scalar", False):
        return col.default.arg  # type: ignore[attr-defined]
    return None


def demo_library_rows() -> list[tuple[str, dict[str, Any]]]:
    """The demo library (``data/demo``) as read by :func:`qi_station.services.demo.read_demo`. The demo data
    ships only in a source checkout: without it the hub starts with an empty library."""
    from qi_station.core.errors import QIError
    from qi_station.services import demo

    try:
        data = demo.read_demo()
    except QIError:  # read_demo's "demo data not found": nothing to load
        return []
    return [(t, r) for t, key in demo.KIND_FILES.items() if t in LIBRARY_TABLES for r in data[key]]


def read_library_file(path: Path, default_table: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """csv / xlsx / json. A row names its table in a ``table`` (or ``kind``) column, or the file is named
    after the table (expert.csv), or a JSON object maps table -> rows."""
    if not path.exists():
        raise SyncError(400, "no_file", f"no such file: {path}")
    stem = path.stem.lower().rstrip("s")
    default_table = default_table or next((t for t in LIBRARY_TABLES if stem.startswith(t)), None)
    suffix = path.suffix.lower()
    raw: list[tuple[str | None, dict[str, Any]]] = []
    if suffix == ".json":
        try:
            with open(path, encoding="utf-8-sig") as f:
                data = json.load(f)
        except ValueError as e:
            raise SyncError(400, "bad_library", f"{path.name}: not JSON ({e})") from None
        if isinstance(data, dict):
            if "rows" in data and isinstance(data["rows"], list):
                raw = [(None, r) for r in data["rows"]]
            else:
                for k, rs in data.items():
                    kk = k.lower().rstrip("s")
                    tname = next((t for t in LIBRARY_TABLES if kk == t), None)
                    if tname and isinstance(rs, list):
                        raw.extend((tname, r) for r in rs)
        elif isinstance(data, list):
            raw = [(None, r) for r in data]
    elif suffix == ".csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as f:
            raw = [(None, dict(r)) for r in csv.DictReader(f)]
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            sheet_t = next((t for t in LIBRARY_TABLES if ws.title.lower().rstrip("s") == t), None)
            it = ws.iter_rows(values_only=True)
            header = next(it, None)
            if not header:
                continue
            hdr = [str(h).strip() if h is not None else "" for h in header]
            for vals in it:
                if all(v is None for v in vals):
                    continue
                raw.append((sheet_t, {h: v for h, v in zip(hdr, vals, strict=False) if h}))
    else:
        raise SyncError(400, "bad_library", f"{path.name}: use .csv, .xlsx or .json")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, (tname, r) in enumerate(raw, start=1):
        if not isinstance(r, dict):
            raise SyncError(400, "bad_library", f"{path.name}: row {i} is not an object")
        t = (
            str(r.pop("table", None) or r.pop("kind", None) or tname or default_table or "")
            .lower()
            .rstrip("s")
        )
        if t not in LIBRARY_TABLES:
            raise SyncError(
                400, "bad_library", f"{path.name}: row {i}: unknown table {t!r} (add a 'table' column)"
            )
        clean = {k: (None if v == "" else v) for k, v in r.items()}
        out.append((t, clean))
    return out
