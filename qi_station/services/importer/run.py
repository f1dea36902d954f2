"""``qi-station request import``: a station's existing spreadsheet ledger into the request ledger, all
rows or none, in one write transaction; a row imported before (its key in ``import_row``) is skipped."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

from qi_station.core.chain import created_data
from qi_station.core.clock import env_now, local_date, to_db
from qi_station.core.errors import ValidationError
from qi_station.db import write as w
from qi_station.db.session import write_session
from qi_station.services.importer.rows import Planned, check_row, row_key, row_meaning, row_text
from qi_station.services.importer.sheet import NoValue, load_mapping, map_headers, open_sheet
from qi_station.services.staff import operator_for
from qi_station.services.station import ensure_station
from qi_station.services.workdays import promise_for

#: the most refused rows listed in a summary (the count is always whole)
MAX_LISTED = 200


class ImportRefused(ValidationError):
    """Some rows break a rule: nothing was written. ``summary`` lists each refused row."""

    def __init__(self, summary: dict[str, Any]) -> None:
        n = summary["refused_rows"]  # rows, not errors (a row may break several rules)
        super().__init__(
            "file",
            "rows_refused",
            f"{n} rows refused, nothing imported / {n} 行不符合规则，未导入任何数据",
        )
        self.summary = summary


def import_ledger(
    db: Path,
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    dry_run: bool = False,
    operator: str | None = None,
    renamed: bool = False,
    list_all: bool = False,
) -> dict[str, Any]:
    """Check every row of the file, then (unless ``dry_run``) write them all in one transaction. Returns
    the summary; raises :class:`ImportRefused` (nothing written) when any row breaks a rule. The summary
    lists the first :data:`MAX_LISTED` refusals (``refused_rows`` counts them all); ``list_all``: every one.
    ``renamed``: the operator confirms that a USCC under another name (registered, or in an earlier row)
    is a renamed enterprise: each rename is recorded (``summary["renames"]``) instead of refused."""
    started = time.perf_counter()
    table = load_mapping(mapping)
    sheet, stream = open_sheet(path, table)
    cols, unknown = map_headers(sheet.headers, table)
    check_columns(set(cols.values()), sheet.name)
    now = env_now()
    importer = _operator(db, operator)  # who imports: the staff rule, checked before any row (dry run too)
    # the file is read as it is checked, a chunk of rows at a time: what is kept of a row is its plan
    # (or its refusals) and the digests of its meaning and of its raw text (identical rows are counted,
    # not kept): the key is the meaning's, the raw text's is how an earlier release keyed it
    seen: Counter[bytes] = Counter()
    seen_raw: Counter[bytes] = Counter()
    planned: list[Planned] = []
    refused: list[dict[str, Any]] = []
    header_of = {f: sheet.headers[i] for i, f in cols.items()}
    before: Counter[str] = Counter()  # rows imported before, by the file they came from
    n_rows = 0
    with _Imported(db) as imported:
        while chunk := list(islice(stream, 1000)):
            n_rows += len(chunk)
            keys: list[tuple[int, str, int, str, int]] = []
            for row_no, row in chunk:
                meaning, text = row_meaning(cols, row), row_text(sheet.headers, row)
                d_meaning, d_text = (hashlib.sha256(t.encode("utf-8")).digest() for t in (meaning, text))
                keys.append((row_no, meaning, seen[d_meaning], text, seen_raw[d_text]))
                seen[d_meaning] += 1
                seen_raw[d_text] += 1
            done = imported.lookup(keys)
            before.update(src for src, _then in done.values())
            rowmap = dict(chunk)
            for row_no, meaning, occurrence, _text, _raw_occurrence in keys:
                if row_no in done:
                    continue
                key = row_key(meaning, occurrence)
                _check_one(rowmap[row_no], row_no, key, cols, header_of, now, operator, planned, refused)
                if dry_run and planned and planned[-1].row_no == row_no:  # nothing will be written: keep
                    planned[-1] = _slim(planned[-1])  # only what the file-wide rename rule reads
    refused_names, renames = _renames(db, planned)
    if not renamed:
        refused += [
            {
                "row": r["row"],
                "field": "enterprise",
                "column": header_of.get("enterprise", ""),
                "rule": "renamed",
                "message": r["message"],
            }
            for r in refused_names
        ]
    summary: dict[str, Any] = {
        "file": str(path),
        "sheet": sheet.sheet,  # the worksheet read (the one the user sees), None for a CSV
        "header_row": sheet.header_row,
        "rows": n_rows,
        "to_import": len(planned) if not refused else 0,
        "imported": 0,
        "already_imported": sum(before.values()),
        # where the rows skipped were imported from (this file, or another copy of it): [{source, rows}]
        "imported_before": [{"source": src, "rows": k} for src, k in before.most_common()],
        "refused": refused if list_all else refused[:MAX_LISTED],
        "refused_rows": len({r["row"] for r in refused}),
        "columns": {sheet.headers[i]: f for i, f in sorted(cols.items())},
        "unknown_columns": unknown,
        "renames": renames if renamed else [],
        "dry_run": dry_run,
        "numbers": [],
    }
    if refused:
        summary["seconds"] = round(time.perf_counter() - started, 2)
        raise ImportRefused(summary)
    if not dry_run and planned:
        summary["imported"], summary["numbers"], late = _write(
            db, sheet.name, planned, importer or "", renamed
        )
        if late:  # another import of the same rows committed between our check and our write lock
            before.update(late)
            summary["to_import"] = summary["imported"]
            summary["already_imported"] = sum(before.values())
            summary["imported_before"] = [{"source": src, "rows": k} for src, k in before.most_common()]
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _slim(p: Planned) -> Planned:
    """A checked row as a dry run keeps it: its number, key and enterprise (``_renames``), not its history."""
    ent = p.request["enterprise"]
    return Planned(
        p.row_no,
        p.key,
        {"enterprise": {"uscc": ent["uscc"], "name": ent["name"]}, "received_at": p.request["received_at"]},
    )


def _check_one(
    row: tuple[Any, ...],
    row_no: int,
    key: str,
    cols: dict[int, str],
    header_of: dict[str, str],
    now: Any,
    operator: str | None,
    planned: list[Planned],
    refused: list[dict[str, Any]],
) -> None:
    """One row by the ledger's rules: its plan into ``planned``, else each of its refusals into ``refused``."""
    cells = {f: row[i] if i < len(row) else None for i, f in cols.items()}
    formulas = [
        ValidationError(
            f,
            "formula",
            f"the cell holds a formula ({c.formula[:60]}) with no computed value: open the file in "
            "Excel or WPS and save it again, or paste the values / 单元格是公式但没有计算结果，"
            "请在 Excel 或 WPS 中打开后另存，或粘贴为数值",
        )
        for f, c in cells.items()
        if isinstance(c, NoValue)
    ]
    if formulas:  # said as such, not as an empty cell of the same field
        cells = {f: None if isinstance(c, NoValue) else c for f, c in cells.items()}
    plan, errors = check_row(cells, row_no, key, now, operator)
    if formulas:
        said = {e.field for e in formulas}
        errors = formulas + [e for e in errors if _column_field(e.field) not in said]
    if plan is not None:
        planned.append(plan)
    for e in errors:
        refused.append(
            {
                "row": row_no,
                "field": e.field,
                "column": header_of.get(_column_field(e.field), ""),
                "rule": e.rule,
                "message": e.message,
            }
        )


#: the fields a ledger must have a column for (a title may come from the description)
REQUIRED = {
    "enterprise": "企业名称",
    "uscc": "统一社会信用代码",
    "elements": "服务类型",
    "received_at": "受理日期",
}


def check_columns(fields: set[str], name: str) -> None:
    """Refuse a sheet missing a column every row needs, once (not once per row)."""
    missing = [zh for f, zh in REQUIRED.items() if f not in fields]
    if not {"title", "description"} & fields:
        missing.append("需求事项/需求描述")
    if missing:
        raise ValidationError(
            "file",
            "columns",
            f"{name} has no column for: {', '.join(missing)} (use --mapping to name yours) "
            f"/ 缺少必需的列: {'、'.join(missing)}（表头不同可用 --mapping 指定）",
        )


# a rule's field -> the column that holds it (the enterprise's fields come from check_enterprise)
_FIELD_COLUMN = {"followup": "followup_note"}


def _column_field(f: str) -> str:
    return _FIELD_COLUMN.get(f, f)


class _Imported:
    """The rows already in ``import_row``, whatever file they came from (one read-only connection for the
    whole file). A row's key is what it means (:func:`row_key` of :func:`row_meaning`); the keys earlier
    releases kept are looked for too: of the row's raw text (:func:`row_text`), and of that text after
    the file's name (under every file imported before)."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        self.sources = [str(r[0]) for r in self.conn.execute("SELECT DISTINCT source FROM import_row")]

    def __enter__(self) -> _Imported:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def lookup(self, rows: list[tuple[int, str, int, str, int]]) -> dict[int, tuple[str, int]]:
        """Rows (row number, :func:`row_meaning`, its occurrence, :func:`row_text`, its occurrence)
        imported before: row number -> (the file, its row number then)."""
        if not self.sources:
            return {}
        want: dict[str, int] = {}
        for row_no, meaning, occurrence, text, raw_occurrence in rows:
            want[row_key(meaning, occurrence)] = row_no
            want[row_key(text, raw_occurrence)] = row_no
            for src in self.sources:
                want[row_key(text, raw_occurrence, src)] = row_no
        got: dict[int, tuple[str, int]] = {}
        part = list(want)
        for j in range(0, len(part), 900):
            ks = part[j : j + 900]
            for k, src, then in self.conn.execute(
                f"SELECT key, source, row_no FROM import_row WHERE key IN ({', '.join('?' * len(ks))})", ks
            ):
                got.setdefault(want[k], (str(src), int(then)))
        return got


#: rows whose histories are built and inserted together (all in the one transaction of the import)
WRITE_CHUNK = 2000


def _write(
    db: Path, source: str, planned: list[Planned], importer: str, renamed: bool = False
) -> tuple[int, list[str], Counter[str]]:
    """Every planned row in one transaction: enterprises (found by USCC or created), ledger numbers in
    order of receipt, the requests with their histories (``db.write.insert_histories``) and the keys,
    :data:`WRITE_CHUNK` rows at a time. ``planned`` is consumed (each plan let go once written). Returns
    the rows written, the first and last ledger numbers, and the rows found imported once the write
    lock is held (an import of the same rows run at the same time committed first: skipped, by the
    file they came from). ``renamed``: an enterprise takes each row's
    name in order of receipt, every change recorded by THE rename path
    (``services.enterprises.record_rename``) at that row's receipt, by the importer; a new enterprise is
    created under its first row's name."""
    from qi_station.core.ids import uuid7
    from qi_station.db.models import Request
    from qi_station.db.session import jsonable, row_dict
    from qi_station.services.enterprises import record_rename

    # popped from the end: in order of receipt
    planned.sort(key=lambda p: (p.request["received_at"], p.row_no), reverse=True)
    with write_session(db) as s:
        st = ensure_station(s)
        # the raw sqlite3 connection of the same transaction: the bulk paths of db.write
        raw = s.connection().connection.dbapi_connection
        late = _imported_since(raw, planned)  # checked again under the write lock (BEGIN IMMEDIATE)
        # who imports: the staff rule (one of the station's staff when it keeps a list); a row's own
        # 经办人 is history and is kept as written
        importer = operator_for(raw, importer or None)
        now = env_now()
        # planned is in reverse order of receipt: the last row received wins
        latest = {p.request["enterprise"]["uscc"]: p.request["enterprise"] for p in reversed(planned)}
        if renamed:  # created under the first name; the later ones are renames
            first: dict[str, str] = {}
            for p in reversed(planned):
                first.setdefault(p.request["enterprise"]["uscc"], p.request["enterprise"]["name"])
            latest = {u: {**e, "name": first[u]} for u, e in latest.items()}
        ents = {u: w.upsert_enterprise(raw, e, st.code) for u, e in latest.items()}  # the latest row's data
        template: dict[str, Any] | None = None
        histories: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        keys: list[tuple[Any, ...]] = []
        numbers: list[str] = []  # the first and the last
        total = 0

        def flush() -> None:
            w.insert_histories(raw, histories, st.code)
            w.insert_rows(raw, "import_row", ("key", "request_id", "source", "row_no", "imported_at"), keys)
            histories.clear()
            keys.clear()

        while planned:
            p = planned.pop()
            data = dict(p.request)
            typed = data.pop("enterprise")
            ent = ents[typed["uscc"]]
            received = data["received_at"]
            created: dict[str, Any] = {"title": data["title"]}
            if renamed:
                got = record_rename(raw, ent, typed["name"], True, st.code, at=received, by=importer)
                if got is not None:
                    created["renamed_from"] = ent["name"]  # as request add records it
                    ent = ents[typed["uscc"]] = got
            if data["promised_date"] is None:  # no 承诺办结日期 column: THE promise (working days)
                data["promised_date"] = promise_for(raw, local_date(received), data["urgency"]).date
            values = {
                "id": uuid7(),
                "number": w.next_ledger_no(raw, st.code, local_date(received)),
                "station_code": st.code,
                "enterprise_id": ent["id"],
                "elements": json.dumps(data.pop("elements")),
                "status": "new",
                "created_at": now,
                "updated_at": now,
                **data,
            }
            if template is None:  # the model's defaults, once (every row sets the same columns)
                template = row_dict(Request(**values))
            row = {**template, **{k: jsonable(x) for k, x in values.items()}}
            actor = row["operator"] = row["operator"] or importer
            created = {**created_data(row), **created}  # what the row's creation fixed (core.chain)
            events = [dict(at=received, actor=actor, kind="created", to_status="new", data=created)]
            events += [dict(kind="status", actor=actor, **m) for m in p.moves]
            source_note = f"导入自 {source} 第 {p.row_no} 行 / imported from {source} row {p.row_no}"
            events.append(
                dict(
                    at=now,
                    actor=importer or actor,
                    kind="note",
                    from_status=p.moves[-1]["to_status"],
                    to_status=p.moves[-1]["to_status"],
                    note=f"{source_note}; 备注: {p.remark}" if p.remark else source_note,
                )
            )
            histories.append((row, events))
            keys.append((p.key, row["id"], source, p.row_no, to_db(now)))
            numbers = [numbers[0] if numbers else row["number"], row["number"]]
            total += 1
            if len(histories) >= WRITE_CHUNK:
                flush()
        flush()
    return total, numbers, late


def _imported_since(raw: Any, planned: list[Planned]) -> Counter[str]:
    """The planned rows whose key is in ``import_row`` now (read under the write lock): removed from
    ``planned``; returns their count by the file they came from."""
    found: dict[str, str] = {}
    keys = [p.key for p in planned]
    for j in range(0, len(keys), 900):
        ks = keys[j : j + 900]
        q = f"SELECT key, source FROM import_row WHERE key IN ({', '.join('?' * len(ks))})"
        found.update((str(k), str(src)) for k, src in raw.execute(q, ks))
    if not found:
        return Counter()
    planned[:] = [p for p in planned if p.key not in found]
    return Counter(found.values())


def _operator(db: Path, given: str | None) -> str:
    """THE staff rule (``services.staff.operator_for``) for the person importing, read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return operator_for(conn, given)
    finally:
        conn.close()


def _renames(db: Path, planned: list[Planned]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rename rule of ``request add`` (``services.enterprises.check_rename``) over the file. Returns
    (the rows it refuses without ``renamed``: each whose USCC is registered under another name, or is under
    another name in an earlier row, ``{row, message}`` in row order; the renames :func:`_write` records
    with ``renamed``: each change of an enterprise's name in order of receipt, ``{row, uscc, from, to}``)."""
    from qi_station.core.errors import ValidationError
    from qi_station.services.enterprises import by_uscc, check_rename, is_rename

    refused: list[dict[str, Any]] = []
    first: dict[str, tuple[str, int]] = {}
    known: dict[str, str | None] = {}  # USCC -> its registered name (None: not registered)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for p in sorted(planned, key=lambda x: x.row_no):
            ent = p.request["enterprise"]
            uscc, name = ent["uscc"], ent["name"]
            msg = None
            row = by_uscc(conn, uscc)
            known[uscc] = row["name"] if row else None
            try:
                check_rename(row, name, False)
            except ValidationError as e:
                msg = e.message
            seen = first.setdefault(uscc, (name, p.row_no))
            if msg is None and is_rename(seen[0], name):
                msg = (
                    f"USCC {uscc} is 「{seen[0]}」 in row {seen[1]} and 「{name}」 here / "
                    f"同一信用代码在第 {seen[1]} 行为「{seen[0]}」，此行为「{name}」"
                )
            if msg is not None:
                refused.append({"row": p.row_no, "message": msg})
    finally:
        conn.close()
    renames: list[dict[str, Any]] = []
    current: dict[str, str] = {}  # USCC -> its name after the rows received before
    for p in sorted(planned, key=lambda x: (x.request["received_at"], x.row_no)):  # _write's order
        uscc, name = p.request["enterprise"]["uscc"], p.request["enterprise"]["name"]
        was = current.get(uscc) or known[uscc] or name
        current[uscc] = name
        if is_rename(was, name):
            renames.append({"row": p.row_no, "uscc": uscc, "from": was, "to": name})
    return refused, renames
