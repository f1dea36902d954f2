"""``qi-station request …``: log, list, show, move, refer and annotate requests (the ledger's CLI).
Heavy modules are imported inside the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from qi_station.cli.kit import OPTS, emit_json, error, handle_errors, station_conn, station_db
from qi_station.core import domain
from qi_station.core.clock import local_minutes, present_rows, present_times
from qi_station.core.validate import money_number  # (every request command's service imports it)

request_app = typer.Typer(help="Request ledger 服务台账.", no_args_is_help=True)


def zh() -> bool:
    return OPTS.lang != "en"


def _status_label(s: str) -> str:
    return (domain.STATUS_ZH if zh() else domain.STATUS_EN).get(s, s)


def _wd(n: int | None) -> str:
    """Working days, or "?" where the holiday calendar does not cover the stretch."""
    return "?" if n is None else str(n)


def _br(text: object, space: str = "") -> str:
    """``text`` in brackets of the output's language: full-width （…） in Chinese, (…) in English after
    ``space`` (a full-width bracket carries its own)."""
    return f"（{text}）" if zh() else f"{space}({text})"


def _overdue_text(r: dict[str, object]) -> str:
    wd, d = r["overdue_workdays"], r["overdue_days"]
    if zh():
        return f"逾期{_wd(wd)}个工作日/{d}天"  # type: ignore[arg-type]
    return f"overdue {_wd(wd)} working days/{d} days"  # type: ignore[arg-type]


def _taken_text(r: dict[str, object]) -> str:
    if r["days_taken"] is None:
        return ""
    wd, d = _wd(r["workdays_taken"]), r["days_taken"]  # type: ignore[arg-type]
    head = (
        ("办理用时" if r.get("resolved_at") else "已用时")
        if zh()
        else ("took" if r.get("resolved_at") else "open for")
    )
    return f"{head}: {wd} {'个工作日' if zh() else 'working days'}{_br(f'{d} ' + ('天' if zh() else 'days'), ' ')}"


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
    promised: str | None = typer.Option(
        None,
        "--promised",
        help="YYYY-MM-DD (default: the station's promise for the urgency, in working days).",
    ),
    received_at: str | None = typer.Option(
        None,
        "--received-at",
        help="e.g. 2026-03-20 09:30, 3-20 9:30 or 9:30 (today); no zone = Asia/Shanghai.",
    ),
    renamed: bool = typer.Option(
        False, "--renamed", help="The USCC is known under another name: record the rename 企业已改名."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Log a new enterprise request 需求登记."""
    from qi_station.services import enterprises, ledger

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
        operator=OPTS.operator,
        renamed=renamed,
    )
    db = station_db()
    for near in enterprises.similar(db, enterprise, uscc):
        sys.stderr.write(
            f"warning: a similar name is registered under another USCC: 「{near['name']}」 ({near['uscc']}) / "
            f"名称相近的企业「{near['name']}」已登记 (信用代码 {near['uscc']})\n"
        )
    r = ledger.create_request(db, inp)
    for warning in r["warnings"]:  # e.g. the calendar does not cover the promised date's year
        sys.stderr.write(f"{'警告' if zh() else 'warning'}: {warning}\n")
    from qi_station.core.validate import uscc_warnings

    for _rule, msg in uscc_warnings(uscc):  # logged all the same: codes under older tables exist
        error(f"warning: uscc: {msg}")
    if as_json:
        from qi_station.services.queries import get_request

        emit_json(detail_json(get_request(db, r["id"])))
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
    from qi_station.core.gcpause import no_cycle_collection

    # a month's list is ~10 000 row dicts (each holding its elements' list: the collector tracks them),
    # none in a cycle: the collector walked them again and again as they were made (~5-10 % of the call)
    with no_cycle_collection():
        _list(status, month, overdue, element, text, limit, as_json)  # (the rows freed before it resumes)


def _list(
    status: str | None,
    month: str | None,
    overdue: bool,
    element: str | None,
    text: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    from qi_station.services.queries import list_requests

    conn = station_conn()
    try:
        rows = list_requests(
            conn, status=status, month=month, overdue=overdue, element=element, text=text, limit=limit
        )
    finally:
        conn.close()
    if as_json:
        emit_json(present_rows([json_money(r) for r in rows]))
        return
    out = sys.stdout
    for r in rows:
        flag = f" !{_overdue_text(r)}" if r["overdue"] else ""
        out.write(
            f"{r['number']}  {local_minutes(r['received_at'])}  {_status_label(r['status'])}{flag}  "
            f"{r['enterprise_former_name'] or r['enterprise_name']}  {r['title']}\n"  # as logged (F3 too)
        )
    sys.stderr.write(f"{len(rows)} {'条' if zh() else 'requests'}\n")


#: the money of a request row (text by ``core.validate.money_text``) that ``--json`` prints as a number
JSON_MONEY = ("cost_saved_wan", "fee_yuan")


def json_money(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` (a request detail or list row) with its money (:data:`JSON_MONEY`) a number as the report's
    JSON gives it (``core.validate.money_number``), in place and returned."""
    for k in JSON_MONEY:
        v = d.get(k)
        if v is not None:  # (a key absent stays absent, None stays None: money_number(None) is None)
            d[k] = money_number(v)
    return d


def detail_json(d: dict[str, Any]) -> dict[str, Any]:
    """A request detail as ``--json`` prints it: times as ISO text, money (``cost_saved_wan``,
    ``fee_yuan``) numbers as the report's JSON gives them (:func:`json_money`)."""
    return present_times(json_money(dict(d)))


@request_app.command("show")
@handle_errors
def request_show(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"), as_json: bool = typer.Option(False, "--json")
) -> None:
    """Every field of a request and its event ledger."""
    from qi_station.services.queries import get_request

    d = get_request(station_db(), key)
    if as_json:
        emit_json(detail_json(d))
        return
    from qi_station.i18n import event_detail, event_name, field_label, kind_name, word

    in_zh = zh()
    el = "、".join((domain.ELEMENT_ZH if in_zh else domain.ELEMENT_EN)[e] for e in d["elements"])
    channels = domain.CHANNEL_ZH if in_zh else domain.CHANNEL_EN
    urgencies = domain.URGENCY_ZH if in_zh else domain.URGENCY_EN
    lines = [
        f"{d['number']}  {_status_label(d['status'])}"
        + (f"  {_br(word('show.overdue', 'zh' if in_zh else 'en'))}" if d["overdue"] else ""),
        f"  {'企业' if in_zh else 'enterprise'}: {d['enterprise_name']}  {d['uscc']}  {d['region_name']}"
        + (
            f"  {_br(('登记时名为 ' if in_zh else 'logged as ') + d['enterprise_former_name'])}"
            if d.get("enterprise_former_name")
            else ""
        )
        + (
            f"  {_br(('所在地 ' if in_zh else 'located in ') + d['location_name'])}"
            if d.get("location_name")
            else ""
        ),
        f"  {'要素' if in_zh else 'elements'}: {el}",
        f"  {'标题' if in_zh else 'title'}: {d['title']}",
        f"  {'受理' if in_zh else 'received'}: {local_minutes(d['received_at'])}   "
        f"{'承诺' if in_zh else 'promised'}: {d['promised_date']}   "
        f"{'渠道' if in_zh else 'channel'}: {domain.label(channels, d['channel'])}  "
        f"{'紧急程度' if in_zh else 'urgency'}: {domain.label(urgencies, d['urgency'])}",
    ]
    phone = d.get("phone_display") or d.get("phone_e164")
    if d.get("contact_name") or phone:  # each on its own line: a phone is never read as a name
        lang = "zh" if in_zh else "en"
        contact = [
            f"  {'联系人' if in_zh else 'contact'}: {d.get('contact_name') or word('show.not_given', lang)}"
        ]
        if phone:
            contact.append(f"  {'电话' if in_zh else 'phone'}: {phone}")
        lines[2:2] = contact
    days = "  ".join(x for x in (_taken_text(d), _overdue_text(d) if d["overdue"] else "") if x)
    if days:
        lines.append(f"  {days}")
    if d.get("description"):
        lines.append(f"  {'描述' if in_zh else 'description'}: {d['description']}")
    if d.get("result"):
        if d.get("resolved_at"):
            label = "办理结果" if in_zh else "result"
        else:  # reopened: the result is no longer final
            label = "原办理结果（已重新办理，作废）" if in_zh else "earlier result (reopened, superseded)"
        outcome = (
            f"解决问题 {d['problems_solved']}，节约 {d['cost_saved_wan']} 万元"
            if in_zh
            else f"problems {d['problems_solved']}, saved {d['cost_saved_wan']} 万元"
        )
        lines.append(f"  {label}: {d['result']}  {_br(outcome)}")
    if d.get("fee_yuan") is not None:  # 收费金额 of the resolution it stands on (core.chain.request_fee)
        lines.append(f"  {field_label('fee', 'zh') if in_zh else 'fee (CNY)'}: {d['fee_yuan']}")
    if d.get("satisfaction"):
        lines.append(
            f"  {'满意度' if in_zh else 'satisfaction'}: {domain.SATISFACTION_ZH[d['satisfaction']]}"
        )
    # zh: the event kinds, libraries and corrected fields by the catalogue's names (as the detail
    # screen shows them); en keeps the codes
    for ref in d["referrals"]:
        kind = kind_name(ref["kind"], "zh") if in_zh else ref["kind"]
        lines.append(f"  -> {kind}: {ref['item_name']}{_br(ref['item_id'], ' ')}")
    for o in d.get("hub_overrides") or ():  # the province's status this station's move overrode
        hub_s, own_s = _status_label(o.get("hub_status")), _status_label(o.get("status"))
        lines.append(
            f"  ! 省级中心曾将其改为「{hub_s}」，本站在看到之前的变更（→{own_s}）覆盖了中心的决定；中心已记录冲突，请与中心核实"
            if in_zh
            else f"  ! the province had set it to {hub_s}; this station's change (-> {own_s}), made before it "
            "saw that, overrode it; the hub recorded the conflict: check with the province"
        )
    lines.append(f"  {'台账' if in_zh else 'ledger'}: {'完整' if d['ledger_ok'] else 'BROKEN 被篡改'}")
    lines += [f"    ! {p}" for p in d.get("ledger_problems") or ()]
    for e in d["events"]:
        move = (
            f"{_status_label(e['from_status']) if e['from_status'] else ''}->{_status_label(e['to_status'])}"
            if e["to_status"]
            else ""
        )
        if domain.is_reopen(e["from_status"], e["to_status"]):
            move += _br(domain.REOPEN_ZH if in_zh else domain.REOPEN_EN, " ")
        if e["kind"] == "correct":
            x = e["data"]
            field = str(x.get("field"))
            move = f"{field_label(field, 'zh') if in_zh else field}: {x.get('old')} -> {x.get('new')}"
        fixed = (
            f"  {_br(('已更正，见' if in_zh else 'corrected by') + ' #' + str(e['corrected_by']))}"
            if e["corrected_by"]
            else ""
        )
        data = e["data"] if isinstance(e["data"], dict) else {}
        if e["kind"] == "referral" and data.get("reason"):  # referred although not qualified
            fixed += f"  [{'原因' if in_zh else 'reason'}: {data['reason']}]"
        if e["kind"] == "status" and data.get("charged"):
            fixed += f"  [{field_label('fee', 'zh') if in_zh else 'fee (CNY)'}: {data.get('fee')}]"
        # a rectify record's 整改人; a resolution's 办理结果 and 解决问题数
        fixed += event_detail(e["kind"], data, "zh" if in_zh else "en", outcome=True)
        what = event_name(e["kind"], "zh") if in_zh else e["kind"]
        lines.append(
            f"   #{e['n']} {local_minutes(e['at'])} {e['actor']} {what} {move} {e['note'] or ''}".rstrip()
            + fixed
        )
    if d["legal_moves"]:
        lines.append(
            f"  {'可转为' if in_zh else 'can move to'}: {' '.join(_status_label(m) for m in d['legal_moves'])}"
        )
    typer.echo("\n".join(lines))


@request_app.command("move")
@handle_errors
def request_move(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    status: str = typer.Argument(
        ...,
        metavar="STATUS_OR_ACTION",
        help="The status it moves to, its label (已受理), or the action's name as the app's buttons say it: "
        + domain.move_names(),
    ),
    note: str | None = typer.Option(None, "--note"),
    at: str | None = typer.Option(
        None, "--at", help="e.g. 2026-03-20 09:30 or 9:30 (today); default now; no zone = Asia/Shanghai."
    ),
    result: str | None = typer.Option(None, "--result", help="Outcome, when resolving."),
    # text: the ledger's rule names it beside every other bad field (a Typer int stopped at the first)
    problems_solved: str | None = typer.Option(None, "--problems-solved"),
    cost_saved: str | None = typer.Option(None, "--cost-saved", help="万元, ≥ 0, 2 decimals."),
    satisfaction: str | None = typer.Option(
        None, "--satisfaction", help="1..5 or its label (5 = 非常满意 … 1 = 非常不满意), on follow-up."
    ),
    charged: bool = typer.Option(False, "--charged", help="The service was charged 收费 (when resolving)."),
    fee: str | None = typer.Option(None, "--fee", help="Fee in yuan 收费金额（元）, ≥ 0, 2 decimals."),
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
        actor=OPTS.operator,
        charged=charged or None,
        fee=fee,
    )
    if as_json:
        from qi_station.services.queries import get_request

        emit_json(detail_json(get_request(station_db(), r["id"])))
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
    at: str | None = typer.Option(
        None, "--at", help="e.g. 2026-03-20 09:30 or 9:30 (today); default now; no zone = Asia/Shanghai."
    ),
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
    ref = ledger.refer_request(station_db(), key, kind, item, note, actor=OPTS.operator, at=at, reason=reason)
    if as_json:
        emit_json(present_times(ref))
    else:
        from qi_station.i18n import kind_name

        label = kind_name(kind, "zh") if zh() else kind  # as `request show` names it
        typer.echo(f"{'已转办' if zh() else 'referred'} -> {label} {ref['item_name']}")
        if ref.get("request_status") not in (None, "referred"):
            from qi_station.i18n import referred_text

            typer.echo(referred_text(ref, "zh" if zh() else "en"))


@request_app.command("note")
@handle_errors
def request_note(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    text: str = typer.Argument(..., help="The note."),
    at: str | None = typer.Option(
        None, "--at", help="e.g. 2026-03-20 09:30 or 9:30 (today); default now; no zone = Asia/Shanghai."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a note to a request's ledger (status unchanged)."""
    from qi_station.services import ledger

    ev = ledger.add_note(station_db(), key, text, actor=OPTS.operator, at=at)
    if as_json:
        emit_json(present_times(ev))
    else:
        typer.echo(f"{'已记录' if zh() else 'noted'} #{ev['n']}")


@request_app.command("correct")
@handle_errors
def request_correct(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    field: str = typer.Option(
        ..., "--field", help=" | ".join(domain.CORRECTABLE) + " (or the label the app shows: 节约成本 …)"
    ),
    value: str = typer.Option(..., "--value", help="The right value (by the same rule as the original)."),
    reason: str = typer.Option(..., "--reason", help="Why the recorded value was wrong 更正原因."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Correct a mistaken outcome or follow-up 更正 (a 站长 only; the original stays in the ledger).
    ``--field`` takes the code or the label the app shows (节约成本, 满意度 …)."""
    from qi_station.i18n import field_code, field_label
    from qi_station.services.corrections import correct_request

    field = field_code(field, domain.CORRECTABLE)
    got = correct_request(station_db(), key, field, value, reason, actor=OPTS.operator)
    if as_json:
        emit_json(got)
    else:
        shown = field_label(field, "zh") if zh() else field
        typer.echo(
            f"{got['number']} {'已更正' if zh() else 'corrected'} {shown}: {got['old']} -> {got['new']} (#{got['n']})"
        )


@request_app.command("import")
@handle_errors
def request_import(
    file: Path = typer.Argument(..., metavar="FILE", help="The ledger: .xlsx, or .csv (UTF-8 or GBK)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row and report; write nothing."),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="TOML or JSON file of header = field pairs (overrides the default table)."
    ),
    renamed: bool = typer.Option(
        False,
        "--renamed",
        help="A USCC under another name (registered, or in an earlier row) is a renamed enterprise: "
        "record each rename 企业已改名 instead of refusing the file.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (and every refused row) as JSON."),
) -> None:
    """Import an existing spreadsheet ledger 导入 Excel 台账: all rows or none; a row imported before is
    skipped."""
    from qi_station.services.importer import ImportRefused, import_ledger

    try:
        summary = import_ledger(
            station_db(),
            file,
            mapping=mapping,
            dry_run=dry_run,
            operator=OPTS.operator,
            renamed=renamed,
            list_all=as_json,
        )
    except ImportRefused as e:
        if as_json:
            emit_json(e.summary)
        else:
            _import_head(e.summary)
            ws = f"{e.summary['sheet']} " if e.summary.get("sheet") else ""  # 台账 第 2 行
            for r in e.summary["refused"]:
                col = f"「{r['column']}」" if r["column"] else ""
                sys.stderr.write(
                    f"{ws}{'第 ' if zh() else 'row '}{r['row']}{' 行' if zh() else ''}  {col}{r['field']}: "
                    f"{r['message']} [{r['rule']}]\n"
                )
            more = e.summary["refused_rows"] - len({r["row"] for r in e.summary["refused"]})
            if more > 0:
                sys.stderr.write(
                    f"… {more} 行未列出（--json 列出全部）\n"
                    if zh()
                    else f"… and {more} more rows not listed (--json lists every one)\n"
                )
        raise
    if as_json:
        emit_json(summary)
        return
    _import_head(summary)
    skipped = summary["already_imported"]
    if summary["dry_run"]:
        line = (
            f"检查通过：{summary['to_import']} 行可导入（试运行，未写入）"
            if zh()
            else f"check passed: {summary['to_import']} rows would be imported (dry run, nothing written)"
        )
    else:
        nums = " … ".join(summary["numbers"])
        line = (
            f"已导入 {summary['imported']} 行{f'（{nums}）' if nums else ''}"
            if zh()
            else f"imported {summary['imported']} rows{f' ({nums})' if nums else ''}"
        )
    if skipped:
        files = ", ".join(f"{x['source']} ({x['rows']})" for x in summary.get("imported_before", []))
        line += (
            f"；{skipped} 行此前已从 {files} 导入，跳过"
            if zh()
            else f"; {skipped} rows were imported before from {files}, skipped"
        )
    for r in summary["renames"]:  # --renamed: each rename recorded (or, in a dry run, to be recorded)
        sys.stderr.write(
            f"{'第 ' if zh() else 'row '}{r['row']}{' 行' if zh() else ''}  {r['uscc']}: "
            f"「{r['from']}」 → 「{r['to']}」 {'企业已改名' if zh() else 'renamed'}\n"
        )
    typer.echo(f"{line}  ({summary['seconds']} s)")


def _import_head(summary: dict[str, Any]) -> None:
    """The file's header row, the columns used and the columns not recognised (on stderr)."""
    cols = "  ".join(f"{h}→{f}" for h, f in summary["columns"].items())
    ws = summary.get("sheet")
    ws = (f"工作表「{ws}」，" if zh() else f"worksheet {ws!r}, ") if ws else ""
    sys.stderr.write(
        f"{summary['file']}: {ws}{'表头在第 ' if zh() else 'header row '}{summary['header_row']}"
        f"{' 行，数据 ' if zh() else ', data rows '}{summary['rows']}{' 行' if zh() else ''}\n"
        f"{'列' if zh() else 'columns'}: {cols}\n"
    )
    if summary["unknown_columns"]:
        sys.stderr.write(
            f"{'未识别的列（未导入）' if zh() else 'columns not recognised (not imported)'}: "
            f"{', '.join(summary['unknown_columns'])}\n"
        )


@request_app.command("rectify")
@handle_errors
def request_rectify(
    key: str = typer.Argument(..., metavar="ID_OR_NUMBER"),
    action: str = typer.Option(..., "--action", help="What was done 整改措施."),
    by: str | None = typer.Option(None, "--by", help="Who did it 整改人 (default: the operator)."),
    at: str | None = typer.Option(
        None, "--at", help="When, ISO-8601 (default now; no zone = Asia/Shanghai)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record the rectification 整改 of a 不满意 / 非常不满意 rating (a closed request rated 1 or 2)."""
    from qi_station.services import ledger

    ev = ledger.rectify_request(station_db(), key, action, by=by, at=at)
    if as_json:
        emit_json(present_times(ev))
    else:
        typer.echo(f"{'已整改' if zh() else 'rectified'} #{ev['n']}")
