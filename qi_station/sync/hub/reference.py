"""Hub-distributed reference documents (``reference`` table: kind, key, body): the calendar by year,
and any later kind (``core.reference.CHECKS``). A document travels to stations like a library row
(rev, seq; HTTP pull and down bundles read it with everything else, signed the same way)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from qi_station.core import reference
from qi_station.core.clock import env_now
from qi_station.core.errors import ValidationError
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import core_table
from qi_station.sync.proto import SyncError


class ReferenceJobs(HubBase):
    def put_references(self, docs: list[tuple[str, str, str]]) -> dict[str, Any]:
        """Store ``(kind, key, body)`` documents, each checked first (a refused one writes nothing). A
        document replaces the previous version of the same kind and key whole (rev + 1, a new seq);
        an identical body changes nothing. A calendar year is also written to the hub's own calendar."""
        import sqlalchemy as sa

        from qi_station.db import write

        parsed = []
        for kind, key, body in docs:
            try:
                parsed.append((kind, key, body, reference.check(kind, key, body)))
            except ValidationError as e:
                raise SyncError(400, "bad_reference", e.message) from None
        t = core_table("reference")
        stats: dict[str, Any] = {"added": [], "updated": [], "unchanged": []}
        now = env_now()
        with self.write() as c:
            written = []
            for kind, key, body, doc in parsed:
                rid = reference.doc_id(kind, key)
                sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
                old = c.execute(sa.select(t.c.rev, t.c.sha256, t.c.deleted).where(t.c.id == rid)).first()
                if old is not None and old[1] == sha and not old[2]:
                    stats["unchanged"].append(key)
                    continue
                vals = dict(kind=kind, key=key, body=body, sha256=sha, deleted=False, updated_at=now)
                if old is None:
                    c.execute(t.insert().values(id=rid, rev=1, seq=0, **vals))
                    stats["added"].append(key)
                else:
                    c.execute(t.update().where(t.c.id == rid).values(rev=int(old[0]) + 1, **vals))
                    stats["updated"].append(key)
                if kind == "calendar":  # the hub's own working days (province figures)
                    for y, days in doc.items():
                        write.replace_calendar_year(c, y, days)
                written.append(("reference", rid))
            self.stamp(c, written)
        return stats

    def import_calendar(self, path: str | Path) -> dict[str, Any]:
        """``hub calendar import FILE``: a calendar file (``year,date,kind,name``), each year it names
        checked whole and replacing that year's previous version."""
        from qi_station.core.workdays import calendar_csv, read_calendar_text

        p = Path(path)
        if not p.is_file():
            raise SyncError(400, "no_file", f"no such file: {p} / 文件不存在")
        try:
            with open(p, encoding="utf-8-sig") as f:
                years = read_calendar_text(f.read(), p.name)
        except ValidationError as e:
            raise SyncError(400, "bad_reference", e.message) from None
        except UnicodeDecodeError:
            raise SyncError(400, "bad_reference", f"{p.name}: not UTF-8 text / 不是 UTF-8 文本") from None
        docs = [("calendar", str(y), calendar_csv(y, days)) for y, days in sorted(years.items())]
        return {"years": sorted(years), **self.put_references(docs)}

    def references(self, kind: str | None = None) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        t = core_table("reference")
        q = sa.select(t.c.kind, t.c.key, t.c.rev, t.c.seq, t.c.sha256, t.c.updated_at).order_by(
            t.c.kind, t.c.key
        )
        if kind:
            q = q.where(t.c.kind == kind)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
