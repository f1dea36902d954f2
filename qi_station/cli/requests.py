"""``qi-station request …``: log, list, show, move, refer and annotate requests (the ledger's CLI).
Heavy modules are imported inside the commands."""

from __future__ import annotations

import sys

import typer

from qi_station.cli.kit import OPTS, emit_json, handle_errors, station_db
from qi_station.core import domain
from qi_station.core.clock import iso_local, present_times

request_app = typer.Typer(help="Request ledger 服务台账.", no_args_is_help=True)


def zh() -> bool:
    return OPTS.lang != "en"


def _status_label(s: str) -> str:
    return (domain.STATUS_ZH if zh() else domain.STATUS_EN).get(s, s)


def _local_short(value: str | None) -> str:
    v = iso_local(value)
    return v[:16].replace("T", " ") if isinstance(v, str) else ""


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
            f"{'已登记' if zh() else 'logged'} {r['number']}  id={r['id']}  "
            f"{'承诺' if zh() else 'promised'} {r['promised_date']}"
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
    sys.stderr.write(f"{len(rows)} {'条' if zh() else 'requests'}\n")


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
    in_zh = zh()
    el = "、".join((domain.ELEMENT_ZH if in_zh else domain.ELEMENT_EN)[e] for e in d["elements"])
    lines = [
        f"{d['number']}  {_status_label(d['status'])}{'  (overdue 逾期)' if d['overdue'] else ''}",
        f"  {'企业' if in_zh else 'enterprise'}: {d['enterprise_name']}  {d['uscc']}  {d['region_name']}",
        f"  {'要素' if in_zh else 'elements'}: {el}",
        f"  {'标题' if in_zh else 'title'}: {d['title']}",
        f"  {'受理' if in_zh else 'received'}: {_local_short(d['received_at'])}   "
        f"{'承诺' if in_zh else 'promised'}: {d['promised_date']}   {'渠道' if in_zh else 'channel'}: {d['channel']}  "
        f"{'紧急程度' if in_zh else 'urgency'}: {d['urgency']}",
    ]
    if d.get("description"):
        lines.append(f"  {'描述' if in_zh else 'description'}: {d['description']}")
    if d.get("result"):
        lines.append(
            f"  {'办理结果' if in_zh else 'result'}: {d['result']}  ({'解决问题' if in_zh else 'problems'} "
            f"{d['problems_solved']}, {'节约' if in_zh else 'saved'} {d['cost_saved_wan']} 万元)"
        )
    if d.get("satisfaction"):
        lines.append(
            f"  {'满意度' if in_zh else 'satisfaction'}: {domain.SATISFACTION_ZH[d['satisfaction']]}"
        )
    for ref in d["referrals"]:
        lines.append(f"  -> {ref['kind']}: {ref['item_name']} ({ref['item_id']})")
    lines.append(f"  {'台账' if in_zh else 'ledger'}: {'完整' if d['ledger_ok'] else 'BROKEN 被篡改'}")
    for e in d["events"]:
        move = f"{e['from_status'] or ''}->{e['to_status'] or ''}" if e["to_status"] else ""
        lines.append(
            f"   #{e['n']} {_local_short(e['at'])} {e['actor']} {e['kind']} {move} {e['note'] or ''}".rstrip()
        )
    if d["legal_moves"]:
        lines.append(f"  {'可转为' if in_zh else 'can move to'}: {' '.join(d['legal_moves'])}")
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
    reason: str | None = typer.Option(
        None,
        "--reason",
        help="Why refer to an institution not qualified for the request (CMA expired or missing); recorded.",
    ),
    at: str | None = typer.Option(None, "--at", help="ISO-8601 (default now; no zone = Asia/Shanghai)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Refer a request to a library item 转办. Refused for a target the request is already referred to,
    and for an institution not qualified for its elements unless --reason is given."""
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
    ref = ledger.refer_request(station_db(), key, kind, item, note, at=at, reason=reason)
    if as_json:
        emit_json(present_times(ref))
    else:
        typer.echo(f"{'已转办' if zh() else 'referred'} -> {kind} {ref['item_name']}")


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
        typer.echo(f"{'已记录' if zh() else 'noted'} #{ev['n']}")
