"""The hub's push apply as it was before the morning-rush work (commit d9e8824), frozen as a reference
for ``test_hub_rush.py``: the same bundles pushed through it and through today's ``apply_push`` must
leave the same hub. Not imported by the program. Do not edit to follow the program: it is the "before".
"""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from qi_station.core import domain
from qi_station.core.activity import check_activity
from qi_station.core.clock import check_year
from qi_station.core.errors import ValidationError
from qi_station.core.rectify import RECTIFY_KIND, rectify_data_of
from qi_station.core import validate as v
from qi_station.sync.hub import rules
from qi_station.sync.hub.ledger import check_events
from qi_station.sync.hub.rules import (
    HUB_EVENT_NOTE_MAX,
    LONG_TEXT_MAX,
    OTHER_TEXT_MAX,
    TEXT,
    _check_enterprise,
    _check_request,
    _core,
    _text_rule,
    refusal,
)
from qi_station.sync.hub.store import Hub
from qi_station.sync.hub.tables import _bad, chunks, coercers, core_table, hub_tables
from qi_station.sync.proto import (
    HUB_REQUEST_FIELDS,
    LIBRARY_TABLES,
    STATION_TABLES,
    TABLE_RANK,
    SyncError,
)


def old_coerce_row(table: str, row: Any, *, strict: bool = False) -> dict[str, Any]:
    """Wire JSON -> column values. ``strict`` (rows from stations): a key that is not a column of the
    table is refused, not dropped."""
    if not isinstance(row, dict):
        raise SyncError(422, "bad_row", f"{table}: row is not an object", table=table, rule="object")
    conv = coercers(table)
    if strict:
        for k in row:
            if k not in conv:
                name = k if isinstance(k, str) and k.isidentifier() and len(k) <= 40 else "?"
                raise SyncError(
                    422,
                    "bad_row",
                    f"{table}.{name}: not a column of {table} / 未知字段",
                    table=table,
                    field=name,
                    rule="unknown_column",
                )
    out = {k: conv[k](v) for k, v in row.items() if k in conv}
    if not isinstance(out.get("id"), str) or not out["id"]:
        raise SyncError(422, "bad_row", f"{table}: row has no id", table=table, field="id", rule="required")
    return out


def old_check_row(oseq: Any, table: str, row: dict[str, Any], code: str) -> None:
    """The rules one row must keep on its own (before it is compared with what the hub holds)."""
    for col, val in row.items():
        if isinstance(val, datetime | date):
            _core(oseq, table, col, partial(check_year, val, col), "a time in range")
        elif isinstance(val, str) and col not in TEXT.get(table, {}):
            cap = LONG_TEXT_MAX.get(col, OTHER_TEXT_MAX)
            if table == "request_event" and col == "note":
                cap = HUB_EVENT_NOTE_MAX
            if len(val) > cap:
                raise refusal(oseq, table, col, "max_length", f"at most {cap} characters")
    for col, (key, multiline, required) in TEXT.get(table, {}).items():
        if table == "request_event" and col == "note" and row.get("kind") == "hub":
            continue  # the hub's own note, capped above
        val = row.get(col)
        if val is None and not required:
            continue
        _core(
            oseq,
            table,
            col,
            partial(v.clean_text, val, key, required=required, multiline=multiline),
            partial(_text_rule, key),
        )
    if table == "enterprise":
        _check_enterprise(oseq, row)
    elif table == "request":
        _check_request(oseq, row, code)
    elif table == "request_event":
        for col in ("from_status", "to_status"):
            if row.get(col) is not None:
                _core(
                    oseq,
                    table,
                    col,
                    partial(v.check_choice, row[col], domain.STATUSES, col),
                    "a known status",
                )
        if not isinstance(row.get("n"), int) or row["n"] < 1:
            raise refusal(oseq, table, "n", "range", "the event's number in its request, from 1")
        try:
            data = json.loads(row.get("data") or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise refusal(oseq, table, "data", "json_object", "a JSON object")
        if row.get("kind") == "correct":
            _core(
                oseq,
                table,
                "data",
                partial(
                    v.check_correct_event, row.get("from_status"), row.get("to_status"), row.get("note"), data
                ),
                "a correction: a correctable field, a valid new value, a reason, the status kept",
            )
        if row.get("kind") == RECTIFY_KIND:  # a rectify record: the core's rule, on its data and status
            _core(oseq, table, "data", lambda: rectify_data_of(data), "what was done and by whom")
            if row.get("to_status") != "closed":
                raise refusal(oseq, table, "to_status", "low_rating", "a rectify record on a closed request")
        # the hash and the link to the previous event: the chain checks (issue 11), not this module
    elif table == "activity":
        try:
            check_activity(row)
        except ValidationError as e:  # names the field the core named; never echoes the value
            raise refusal(
                oseq, table, e.field, e.rule, "an activity: kind, date, counts ≥ 0, title"
            ) from None
    elif table == "referral":
        _core(
            oseq,
            table,
            "kind",
            lambda: v.check_choice(str(row.get("kind")), LIBRARY_TABLES, "kind"),
            "a library table (expert, institution, equipment, project)",
        )


class ReferenceHub(Hub):
    """A hub whose push applies with the frozen code above."""

    def apply_push(
        self,
        c: Connection,
        st: dict[str, Any],
        batch: list[dict[str, Any]],
        *,
        head: dict[str, Any] | None = None,
        restored: bool = False,  # today's push() passes the station's restore mark; the frozen one has no oseq digests
        into: Any = None,  # today's push() offers to write the ack and head itself; the frozen one writes its own
        clock_ok: bool = False,  # today's push() says whether the station's clock is right now; the frozen one refuses any time ahead
    ) -> dict[str, Any]:
        """The apply function as it was before the rush work (frozen). THE apply function for station changes (HTTP push and up bundles). Runs inside ``c``'s
        transaction: skip what is acked, refuse gaps, check ownership and every new event's hash and
        link (``ledger.check_events``), s_rev guards, stamp seq, ack, keep the signed running head."""
        import sqlalchemy as sa

        acked = int(st["acked_oseq"])
        code = st["code"]
        results: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for ch in sorted(batch, key=lambda x: x["oseq"]):
            if ch["oseq"] <= acked:
                results.append({"oseq": ch["oseq"], "status": "duplicate"})
            else:
                fresh.append(ch)
        if results:
            self._check_duplicates(c, [ch for ch in batch if ch["oseq"] <= acked], acked)
        expect = acked + 1
        seen: set[int] = set()
        for ch in fresh:
            if ch["oseq"] in seen:
                raise SyncError(422, "bad_batch", f"oseq {ch['oseq']} appears twice in one batch")
            seen.add(ch["oseq"])
            if ch["oseq"] != expect:
                raise SyncError(
                    409,
                    "gap",
                    f"out-of-order change: expected oseq {acked + 1 if not results and expect == acked + 1 else expect}, got {ch['oseq']} (need an earlier bundle / 缺少更早的数据包)",
                    expected=expect,
                    acked_oseq=acked,
                )
            expect += 1
        if not fresh:
            self.accept_head(c, st, head)
            return {"acked_oseq": acked, "results": results, "applied": 0}
        # authorize + coerce everything before writing anything
        prepared: list[tuple[int, int, str, dict[str, Any], dict[str, Any]]] = []
        batch_requests: set[str] = set()
        for ch in fresh:
            table = ch.get("table")
            if table in LIBRARY_TABLES:
                raise SyncError(
                    403, "forbidden", f"a station cannot write library table {table!r} / 站点不能修改资源库"
                )
            if table not in STATION_TABLES:
                raise SyncError(403, "forbidden", f"table {table!r} is not synced from stations")
            try:
                row = old_coerce_row(str(table), ch.get("row"), strict=True)
            except SyncError as e:  # name the change, like every rule refusal
                raise SyncError(
                    e.status,
                    e.code,
                    f"refused, nothing written: change {ch['oseq']}: {e.message}",
                    **{**e.data, "oseq": ch["oseq"]},
                ) from None
            if table in ("enterprise", "request", "activity") and row.get("station_code") != code:
                raise SyncError(
                    403,
                    "forbidden",
                    f"{table} {row['id']} belongs to station {row.get('station_code')!r}, not {code!r} / 不能修改其他站点的数据",
                )
            if table == "request":
                batch_requests.add(row["id"])
            prepared.append((TABLE_RANK[str(table)], ch["oseq"], str(table), row, ch))
        # ownership against what the hub already holds
        treq, tent = core_table("request"), core_table("enterprise")
        req_ids = {p[3]["id"] for p in prepared if p[2] == "request"} | {
            p[3].get("request_id") for p in prepared if p[2] in ("request_event", "referral")
        }
        req_ids.discard(None)
        owners: dict[str, tuple[str, int, int, str]] = {}
        for chunk in chunks(sorted(x for x in req_ids if isinstance(x, str)), 500):
            for r in c.execute(
                sa.select(treq.c.id, treq.c.station_code, treq.c.s_rev, treq.c.h_rev, treq.c.status).where(
                    treq.c.id.in_(chunk)
                )
            ):
                owners[r[0]] = (r[1], r[2], r[3], r[4])
        ent_ids = [p[3]["id"] for p in prepared if p[2] == "enterprise"]
        ent_owner: dict[str, tuple[str | None, int]] = {}
        for chunk in chunks(ent_ids, 500):
            for er in c.execute(
                sa.select(tent.c.id, tent.c.station_code, tent.c.s_rev).where(tent.c.id.in_(chunk))
            ):
                ent_owner[er[0]] = (er[1], er[2])
        for _rank, _o, table, row, _ch in prepared:
            rid = row["id"] if table == "request" else row.get("request_id")
            if table in ("request", "request_event", "referral"):
                own = owners.get(str(rid))
                if own is not None and own[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"request {rid} belongs to station {own[0]!r}, not {code!r} / 不能修改其他站点的台账",
                    )
                if own is None and rid not in batch_requests:
                    raise SyncError(422, "orphan", f"{table} {row['id']} refers to unknown request {rid}")
            if table == "enterprise":
                eo = ent_owner.get(row["id"])
                if eo is not None and eo[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"enterprise {row['id']} belongs to station {eo[0]!r} / 不能修改其他站点的企业",
                    )
        # the station's rules against what the hub holds: its own enterprises, lifecycle moves, hub fields
        ent_station = {p[3]["id"]: code for p in prepared if p[2] == "enterprise"}
        ent_refs = sorted(
            {str(p[3].get("enterprise_id")) for p in prepared if p[2] == "request"} - set(ent_station)
        )
        for chunk in chunks(ent_refs, 500):
            for eref in c.execute(sa.select(tent.c.id, tent.c.station_code).where(tent.c.id.in_(chunk))):
                ent_station[eref[0]] = eref[1]
        stored = dict(owners)
        for _rank, oseq, table, row, _ch in sorted(prepared, key=lambda p: p[1]):
            old_check_row(oseq, table, row, code)
            if table == "request":
                held = stored.get(row["id"])
                rules.check_request_change(
                    oseq, row, held, ent_station.get(str(row.get("enterprise_id"))), code
                )
                if held is None or int(row.get("s_rev") or 0) > held[1]:  # applied, not stale
                    stored[row["id"]] = (
                        code,
                        int(row.get("s_rev") or 0),
                        held[2] if held else 0,
                        str(row.get("status")),
                    )
        rectify = [
            (p[1], p[3]) for p in prepared if p[2] == "request_event" and p[3].get("kind") == "rectify"
        ]
        if rectify:  # the request as it stands after this batch: its last row in the batch, else the hub's
            latest = {
                p[3]["id"]: (p[3].get("status"), p[3].get("satisfaction"))
                for p in sorted(prepared, key=lambda p: p[1])
                if p[2] == "request"
            }
            rids = sorted({str(ev.get("request_id")) for _o, ev in rectify} - set(latest))
            for x in c.execute(
                sa.select(treq.c.id, treq.c.status, treq.c.satisfaction).where(treq.c.id.in_(rids))
            ):
                latest[x[0]] = (x[1], x[2])
            for oseq, ev in rectify:
                rules.check_rectify_event(oseq, latest.get(str(ev.get("request_id"))))
        check_events(
            c,
            [
                ch["row"]
                for ch in fresh
                if ch.get("table") == "request_event" and isinstance(ch.get("row"), dict)
            ],
            {p[3]["id"]: str(p[3].get("number")) for p in prepared if p[2] == "request"},
        )
        # apply in foreign-key order; within a table in oseq order. New rows are collected and inserted
        # in bulk (one executemany per table and column set) before the next table; a later change of a
        # row inserted in this batch is merged into its pending insert.
        written: list[tuple[str, str]] = []
        status_of: dict[int, str] = {}
        have: set[str] = set()
        for tname in ("request_event", "referral", "activity"):
            ids = [p[3]["id"] for p in prepared if p[2] == tname]
            tt = core_table(tname)
            for chunk in chunks(ids, 500):
                have.update(r[0] for r in c.execute(sa.select(tt.c.id).where(tt.c.id.in_(chunk))))
        pending: dict[str, dict[str, dict[str, Any]]] = {}

        def flush(table: str) -> None:
            rows_ = pending.pop(table, None)
            if not rows_:
                return
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for r in rows_.values():
                groups.setdefault(tuple(sorted(r)), []).append(r)
            for params in groups.values():
                c.execute(core_table(table).insert(), params)

        current = None
        for _rank, oseq, table, row, _ch in sorted(prepared, key=lambda p: (p[0], p[1])):
            if table != current:
                if current is not None:
                    flush(current)
                current = table
            t = core_table(table)
            ins = pending.setdefault(table, {})
            if table == "enterprise":
                prev = ent_owner.get(row["id"])
                if prev is None:
                    row["seq"] = 0
                    ins[row["id"]] = row
                    ent_owner[row["id"]] = (code, row.get("s_rev", 1))
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                elif row.get("s_rev", 0) > prev[1]:
                    vals = {k: v for k, v in row.items() if k not in ("id", "seq")}
                    if row["id"] in ins:
                        ins[row["id"]].update(vals)
                    else:
                        c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                    ent_owner[row["id"]] = (code, row["s_rev"])
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                else:
                    status_of[oseq] = "stale"
            elif table == "request":
                prevr = owners.get(row["id"])
                if prevr is None:
                    row["seq"] = 0
                    ins[row["id"]] = row
                    owners[row["id"]] = (
                        code,
                        row.get("s_rev", 1),
                        row.get("h_rev", 0),
                        row.get("status", "new"),
                    )
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                elif row.get("s_rev", 0) > prevr[1]:
                    vals = {
                        k: v for k, v in row.items() if k not in ("id", "seq", "h_rev", *HUB_REQUEST_FIELDS)
                    }
                    if row.get("h_rev", 0) < prevr[2] and row.get("status") != prevr[3]:
                        self.conflict(
                            c,
                            "request",
                            row["id"],
                            "station_overrides_hub_status",
                            {
                                "station": code,
                                "hub_status": prevr[3],
                                "station_status": row.get("status"),
                                "hub_h_rev": prevr[2],
                                "station_seen_h_rev": row.get("h_rev"),
                            },
                        )
                    if row["id"] in ins:
                        ins[row["id"]].update(vals)
                    else:
                        c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                    owners[row["id"]] = (code, row["s_rev"], prevr[2], row.get("status", prevr[3]))
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                else:
                    status_of[oseq] = "stale"
            else:  # append-only rows: insert once
                if row["id"] in have:
                    status_of[oseq] = "duplicate"
                else:
                    have.add(row["id"])
                    ins[row["id"]] = row
                    status_of[oseq] = "applied"
        if current is not None:
            flush(current)
        self.stamp(c, written)
        new_ack = fresh[-1]["oseq"]
        hs = hub_tables()["hub_station"]
        c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(acked_oseq=new_ack))
        st["acked_oseq"] = new_ack
        self.accept_head(c, st, head)
        results.extend({"oseq": ch["oseq"], "status": status_of.get(ch["oseq"], "applied")} for ch in fresh)
        return {"acked_oseq": new_ack, "results": results, "applied": len(fresh)}
