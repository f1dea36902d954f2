"""The ``qi-station`` command line (Typer).

Import-light on purpose: heavy modules (SQLModel, pypinyin, openpyxl, FastAPI, Textual) are
imported inside the commands that need them, so ``request``, ``library``, ``report`` and
``sync`` never import Textual and start fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from qi_station import __version__
from qi_station.cli.kit import OPTS, emit_json, handle_errors, run_app, station_db
from qi_station.core import domain
from qi_station.core.clock import iso_local, present_times

app = typer.Typer(
    help="qi-station: 质量基础设施一站式服务工作站 (Shandong QI one-stop service workstation).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
request_app = typer.Typer(help="Request ledger 服务台账.", no_args_is_help=True)
library_app = typer.Typer(help="The four libraries and enterprises 四库.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger as a whole 台账校验.", no_args_is_help=True)
app.add_typer(request_app, name="request")
demo_app = typer.Typer(help="The demo data 演示数据.", no_args_is_help=True)
app.add_typer(request_app, name="request")
app.add_typer(library_app, name="library")
app.add_typer(demo_app, name="demo")
app.add_typer(ledger_app, name="ledger")


def _mount_optional() -> None:
    """Mount the report, sync and hub command groups (their modules import nothing heavy)."""
    try:
        from qi_station.cli.report import report_app
    except ImportError:  # pragma: no cover - during development only
        pass
    else:
        app.add_typer(report_app, name="report", help="Monthly summaries 月报.")
    try:
        from qi_station.cli.sync import hub_app, sync_app
    except ImportError:  # pragma: no cover
        pass
    else:
        app.add_typer(sync_app, name="sync", help="Sync with the provincial hub 同步.")
        app.add_typer(hub_app, name="hub", help="The provincial hub service 省级中心.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qi-station {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None, "--db", help="Station database file (default: QI_STATION_DB or the user data dir)."
    ),
    lang: str = typer.Option("", "--lang", help="zh or en (default: config file, else zh)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    OPTS.db = db
    if lang and lang not in ("zh", "en"):
        sys.stderr.write("error: --lang: must be zh or en [choice]\n")
        raise typer.Exit(2)
    OPTS.lang = lang or os.environ.get("QI_STATION_LANG", "") or ""
    if ctx.invoked_subcommand is None:
        _run_tui()


def _run_tui() -> None:
    @handle_errors
    def go() -> None:
        from qi_station.app import run

        run(station_db(), OPTS.lang or None)

    go()


@app.command("tui")
def tui() -> None:
    """Open the operator's app (the same as running with no command)."""
    _run_tui()


def _zh() -> bool:
    return OPTS.lang != "en"


def _status_label(s: str) -> str:
    return (domain.STATUS_ZH if _zh() else domain.STATUS_EN).get(s, s)


def _local_short(value: str | None) -> str:
    v = iso_local(value)
    return v[:16].replace("T", " ") if isinstance(v, str) else ""


# ---- init / generate / backup ---------------------------------------------------------------
@app.command("init")
@handle_errors
def init(
    demo: bool = typer.Option(False, "--demo", help="Load the demo library, enterprises and requests."),
    station_code: str | None = typer.Option(
        None, "--station-code", help="This station's code, e.g. JN-GX01."
    ),
    station_name: str | None = typer.Option(None, "--station-name", help="This station's name."),
    station_type: str | None = typer.Option(
        None, "--station-type", help="综合服务中心 / 园区工作站 / 龙头企业"
    ),
    service_mode: str | None = typer.Option(None, "--service-mode", help="政府引导 / 市场主导 / 区域集约"),
    region: str | None = typer.Option(
        None, "--region", help="GB/T 2260 code of the station's city, e.g. 370100."
    ),
) -> None:
    """Create (or update) the station database."""
    from qi_station.services.station import check_station_input, init_station

    # bad input is refused before a database file is created
    check_station_input(station_code, station_name, station_type, service_mode, region)
    db = station_db()
    st = init_station(
        db,
        code=station_code,
        name=station_name,
        type_=station_type,
        service_mode=service_mode,
        region_code=region,
    )
    typer.echo(
        f"station {st.code} {st.name} ({st.type}, {st.service_mode}, {domain.region_name(st.region_code)})"
    )
    if demo:
        from qi_station.devtools.demo import load_demo

        res = load_demo(db)
        typer.echo(_demo_summary(res))
    typer.echo(f"database: {db}")


def _demo_summary(res: dict[str, Any]) -> str:
    if res.get("skipped"):
        return "demo data already loaded / 演示数据已存在"
    parts = ", ".join(f"{k} {v}" for k, v in res.items() if isinstance(v, int) and not isinstance(v, bool))
    return f"demo data loaded / 已载入演示数据: {parts}"


@demo_app.command("remove")
@handle_errors
def demo_remove(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Delete every demo row (requests, events, referrals, enterprises, library rows from the demo);
    real work is never touched."""
    from qi_station.devtools.demo import remove_demo

    res = remove_demo(station_db())
    if as_json:
        emit_json(res)
        return
    parts = ", ".join(f"{k} {v}" for k, v in res.items())
    typer.echo(f"demo data removed / 已删除演示数据: {parts}")


@app.command("generate")
@handle_errors
def generate(
    requests: int = typer.Option(..., "--requests", min=0, help="Number of requests to generate."),
    library: int = typer.Option(
        ..., "--library", min=0, help="Number of library rows over the four libraries."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same data)."),
) -> None:
    """Generate synthetic data at any scale (bulk inserts; deterministic by seed)."""
    import time

    from qi_station.devtools.generate.run import generate as gen

    db = station_db()
    t0 = time.perf_counter()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if sys.stderr.isatty() and (now - last[0] > 0.25 or done == total):
            last[0] = now
            sys.stderr.write(f"\r{stage}: {done}/{total}   ")
            sys.stderr.flush()

    res = gen(db, requests=requests, library=library, seed=seed, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    typer.echo(
        f"generated in {time.perf_counter() - t0:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.items())
    )


@app.command("backup")
@handle_errors
def backup(
    out: Path = typer.Option(
        ..., "--out", help="Backup file to write, or a directory to write qi-backup-<station>-<time>.db into."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing older backup (never a live database or another file)."
    ),
) -> None:
    """Consistent online backup of the station database (SQLite backup API)."""
    from qi_station.services.backup import backup_db

    db = station_db()
    path = backup_db(db, out, force=force)
    typer.echo(f"backup written: {path} ({path.stat().st_size} bytes)")


@app.command("restore")
@handle_errors
def restore(file: Path = typer.Argument(..., help="A backup made by `qi-station backup`.")) -> None:
    """Replace the station database with a backup (checked first; the old one is kept beside it)."""
    from qi_station.db.paths import resolve_db_path
    from qi_station.services.backup import reenroll_hint, restore_db

    db = resolve_db_path(OPTS.db)
    kept, check = restore_db(file, db)
    typer.echo(f"restored from {file}" + (f"; previous database kept as {kept}" if kept else ""))
    from qi_station.cli.sync import ledger_line

    typer.echo(ledger_line(bool(check["ok"])))
    hint = reenroll_hint(db)
    if hint:
        typer.echo(hint)


@ledger_app.command("verify")
@handle_errors
def ledger_verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Check the whole ledger: every request's hash chain, its row against its events, the running
    head and the number counters. Exit 0 when intact, 1 listing each request and what is wrong."""
    from qi_station.services.verify import report_lines, verify_ledger

    res = verify_ledger(station_db())
    if as_json:
        emit_json(res)
    else:
        for line in report_lines(res):
            typer.echo(line)
    if not res["ok"]:
        raise typer.Exit(1)


# ---- request -------------------------------------------------------------------------------
@request_app.command("add")
@handle_errors
def request_add(
    enterprise: str = typer.Option(..., "--enterprise", help="Enterprise name 企业名称."),
    uscc: str = typer.Option(..., "--uscc", help="统一社会信用代码 (18 characters)."),
    elements: str = typer.Option(
        ..., "--elements", help="Comma list: standards,metrology,testing,... or 标准,计量,..."
    ),
    title: str = typer.Option(..., "--title", help="Short title of the request."),
    description: str | None = typer.Option(None, "--description"),
    sub_type: str | None = typer.Option(None, "--sub-type"),
    channel: str = typer.Option("walk_in", "--channel", help="visit|walk_in|phone|online|event"),
    urgency: str = typer.Option("normal", "--urgency", help="normal|urgent"),
    contact: str | None = typer.Option(None, "--contact"),
    phone: str | None = typer.Option(None, "--phone"),
    promised: str | None = typer.Option(None, "--promised", help="YYYY-MM-DD (default from urgency)."),
    received_at: str | None = typer.Option(None, "--received-at", help="ISO-8601; no zone = Asia/Shanghai."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Log a new enterprise request 需求登记."""
    from qi_station.services import ledger

    inp = ledger.RequestInput(
        enterprise=enterprise,
        uscc=uscc,
        elements=elements,
        title=title,
        description=description,
        sub_type=sub_type,
        channel=channel,
        urgency=urgency,
        contact=contact,
        phone=phone,
        promised=promised,
        received_at=received_at,
    )
    db = station_db()
    r = ledger.create_request(db, inp)
    if as_json:
        from qi_station.services.queries import get_request

        emit_json(present_times(get_request(db, r["id"])))
    else:
        typer.echo(
            f"{'已登记' if _zh() else 'logged'} {r['number']}  id={r['id']}  "
            f"{'承诺' if _zh() else 'promised'} {r['promised_date']}"
        )


@request_app.command("list")
@handle_errors
def request_list(
    status: str | None = typer.Option(None, "--status", help="One status or a comma list."),
    month: str | None = typer.Option(None, "--month", help="YYYY-MM (received in, Asia/Shanghai)."),
    overdue: bool = typer.Option(False, "--overdue", help="Only overdue requests."),
    element: str | None = typer.Option(None, "--element"),
    text: str | None = typer.Option(None, "--text", help="Substring of title, number or enterprise."),
    limit: int | None = typer.Option(None, "--limit", min=0, help="At most N rows (default: all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List requests, newest first."""
    from qi_station.services.queries import list_requests

    rows = list_requests(
        station_db(), status=status, month=month, overdue=overdue, element=element, text=text, limit=limit
    )
    if as_json:
        emit_json([present_times(r) for r in rows])
        return
    out = sys.stdout
    for r in rows:
        flag = " !" if r["overdue"] else ""
        out.write(
            f"{r['number']}  {_local_short(r['received_at'])}  {_status_label(r['status'])}{flag}  "
            f"{r['enterprise_name']}  {r['title']}\n"
        )
    sys.stderr.write(f"{len(rows)} {'条' if _zh() else 'requests'}\n")


@request_app.command("show")
@handle_errors
def request_show(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"), as_json: bool = typer.Option(False, "--json")
) -> None:
    """Every field of a request and its event ledger."""
    from qi_station.services.queries import get_request

    d = get_request(station_db(), key)
    if as_json:
        emit_json(present_times(d))
        return
    zh = _zh()
    el = "、".join((domain.ELEMENT_ZH if zh else domain.ELEMENT_EN)[e] for e in d["elements"])
    lines = [
        f"{d['number']}  {_status_label(d['status'])}{'  (overdue 逾期)' if d['overdue'] else ''}",
        f"  {'企业' if zh else 'enterprise'}: {d['enterprise_name']}  {d['uscc']}  {d['region_name']}",
        f"  {'要素' if zh else 'elements'}: {el}",
        f"  {'标题' if zh else 'title'}: {d['title']}",
        f"  {'受理' if zh else 'received'}: {_local_short(d['received_at'])}   "
        f"{'承诺' if zh else 'promised'}: {d['promised_date']}   {'渠道' if zh else 'channel'}: {d['channel']}  "
        f"{'紧急程度' if zh else 'urgency'}: {d['urgency']}",
    ]
    if d.get("description"):
        lines.append(f"  {'描述' if zh else 'description'}: {d['description']}")
    if d.get("result"):
        lines.append(
            f"  {'办理结果' if zh else 'result'}: {d['result']}  ({'解决问题' if zh else 'problems'} "
            f"{d['problems_solved']}, {'节约' if zh else 'saved'} {d['cost_saved_wan']} 万元)"
        )
    if d.get("satisfaction"):
        lines.append(f"  {'满意度' if zh else 'satisfaction'}: {domain.SATISFACTION_ZH[d['satisfaction']]}")
    for ref in d["referrals"]:
        lines.append(f"  -> {ref['kind']}: {ref['item_name']} ({ref['item_id']})")
    lines.append(f"  {'台账' if zh else 'ledger'}: {'完整' if d['ledger_ok'] else 'BROKEN 被篡改'}")
    for e in d["events"]:
        move = f"{e['from_status'] or ''}->{e['to_status'] or ''}" if e["to_status"] else ""
        lines.append(
            f"   #{e['n']} {_local_short(e['at'])} {e['actor']} {e['kind']} {move} {e['note'] or ''}".rstrip()
        )
    if d["legal_moves"]:
        lines.append(f"  {'可转为' if zh else 'can move to'}: {' '.join(d['legal_moves'])}")
    typer.echo("\n".join(lines))


@request_app.command("move")
@handle_errors
def request_move(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    status: str = typer.Argument(..., help=" ".join(domain.STATUSES)),
    note: str | None = typer.Option(None, "--note"),
    at: str | None = typer.Option(None, "--at", help="ISO-8601 (default now; no zone = Asia/Shanghai)."),
    result: str | None = typer.Option(None, "--result", help="Outcome, when resolving."),
    problems_solved: int | None = typer.Option(None, "--problems-solved"),
    cost_saved: str | None = typer.Option(None, "--cost-saved", help="万元, ≥ 0, 2 decimals."),
    satisfaction: int | None = typer.Option(
        None, "--satisfaction", help="1..5 (5 = 非常满意), on follow-up."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Move a request through its lifecycle."""
    from qi_station.services import ledger

    r = ledger.move_request(
        station_db(),
        key,
        status,
        note=note,
        at=at,
        result=result,
        problems_solved=problems_solved,
        cost_saved=cost_saved,
        satisfaction=satisfaction,
    )
    if as_json:
        from qi_station.services.queries import get_request

        emit_json(present_times(get_request(station_db(), r["id"])))
    else:
        typer.echo(f"{r['number']} -> {_status_label(r['status'])}")


@request_app.command("refer")
@handle_errors
def request_refer(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    expert: str | None = typer.Option(None, "--expert", help="Expert id."),
    institution: str | None = typer.Option(None, "--institution", help="Institution id."),
    equipment: str | None = typer.Option(None, "--equipment", help="Equipment id."),
    project: str | None = typer.Option(None, "--project", help="Project id."),
    note: str | None = typer.Option(None, "--note"),
    at: str | None = typer.Option(None, "--at", help="ISO-8601 (default now; no zone = Asia/Shanghai)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Refer a request to a library item 转办."""
    from qi_station.core.errors import ValidationError
    from qi_station.services import ledger

    given = [
        (k, v)
        for k, v in (
            ("expert", expert),
            ("institution", institution),
            ("equipment", equipment),
            ("project", project),
        )
        if v
    ]
    if len(given) != 1:
        raise ValidationError(
            "target", "exactly_one", "give exactly one of --expert --institution --equipment --project"
        )
    kind, item = given[0]
    ref = ledger.refer_request(station_db(), key, kind, item, note, at=at)
    if as_json:
        emit_json(present_times(ref))
    else:
        typer.echo(f"{'已转办' if _zh() else 'referred'} -> {kind} {ref['item_name']}")


@request_app.command("note")
@handle_errors
def request_note(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    text: str = typer.Argument(..., help="The note."),
    at: str | None = typer.Option(None, "--at", help="ISO-8601 (default now; no zone = Asia/Shanghai)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a note to a request's ledger (status unchanged)."""
    from qi_station.services import ledger

    ev = ledger.add_note(station_db(), key, text, at=at)
    if as_json:
        emit_json(present_times(ev))
    else:
        typer.echo(f"{'已记录' if _zh() else 'noted'} #{ev['n']}")


# ---- library -------------------------------------------------------------------------------
@library_app.command("search")
@handle_errors
def library_search(
    kind: str = typer.Argument(..., help="experts|institutions|equipment|projects|enterprises"),
    query: str = typer.Argument("", help="Chinese text, pinyin or initials; empty lists everything."),
    element: str | None = typer.Option(None, "--element"),
    city: str | None = typer.Option(None, "--city", help="GB/T 2260 city code, e.g. 370800."),
    valid_only: bool = typer.Option(False, "--valid-only", help="Institutions with a valid CMA/CNAS."),
    shared_only: bool = typer.Option(False, "--shared-only", help="Shared equipment only."),
    limit: int | None = typer.Option(None, "--limit", min=0, help="At most N (default: all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search a library by Chinese text, full pinyin or initials (ranked; own city first)."""
    from qi_station.core.errors import ValidationError
    from qi_station.services.search import search, station_city

    if kind not in domain.SEARCH_KINDS:
        raise ValidationError("kind", "choice", f"kind must be one of {', '.join(domain.SEARCH_KINDS)}")
    db = station_db()
    own = station_city(db)
    rows = search(
        db,
        kind,
        query,
        element=element,
        city=city,
        valid_only=valid_only,
        shared_only=shared_only,
        own_city=own,
        limit=limit,
    )
    for r in rows:
        r.pop("haystack", None)
    if as_json:
        emit_json([present_times(r) for r in rows])
        return
    names = domain.ELEMENT_ZH if _zh() else domain.ELEMENT_EN
    for r in rows:
        el = "、".join(names.get(e, e) for e in r["elements"])
        extra = ""
        if kind == "institutions":
            extra = f" CMA {r.get('cma_expiry') or '-'} CNAS {r.get('cnas_expiry') or '-'}"
        elif kind == "equipment":
            extra = (
                f" {'共享' if r.get('shared') else '不共享'} {r.get('fee') or ''}/{r.get('fee_unit') or ''}"
            )
        elif kind == "enterprises":
            extra = f" {r.get('uscc')}"
        sys.stdout.write(f"{r['id']}  {r['name']}  {r['city_name']}  {el}{extra}\n")
    sys.stderr.write(f"{len(rows)} {'条' if _zh() else 'matches'}\n")


def main() -> None:
    _mount_optional()
    run_app(app)


if __name__ == "__main__":
    main()
