"""Request detail: every field, the event timeline, referrals, free-standing notes, and only the legal
lifecycle moves as actions - keys and buttons both (resolve asks for the outcome, the follow-up for
satisfaction; refer shows ranked matches; a note is a ledger event that leaves the status alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from qi_station.core import domain
from qi_station.i18n import (
    channel_name,
    city_name,
    elements_text,
    err_text,
    event_detail,
    event_name,
    kind_name,
    move_name,
    referred_text,
    role_name,
    satisfaction_name,
    status_name,
    t,
    urgency_name,
)
from qi_station.screens.base import StationScreen, error_message, relabel_binding
from qi_station.screens.bindings import bindings
from qi_station.screens.correct_dialog import correctable, correction_text
from qi_station.screens.footer import StationFooter
from qi_station.services import keymap

MOVE_KEYS = {
    "accepted": "detail.accept",
    "in_progress": "detail.start",
    "waiting": "detail.wait",
    "resolved": "detail.resolve",
    "closed": "detail.close",
    "on_hold": "detail.hold",
    "cancelled": "detail.cancel",
}


def _time(v: Any) -> str:
    """A stored naive-UTC time as local 'YYYY-MM-DD HH:MM'."""
    if not v:
        return ""
    from qi_station.core.clock import from_db, local

    try:
        dt = from_db(v)
        return local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""
    except (TypeError, ValueError):
        return str(v)[:16]


def _rectifiable(r: dict[str, Any]) -> bool:
    """May this request take a rectify record (the core's rule: ``core.rectify.can_rectify``)?"""
    from qi_station.core import rectify

    return rectify.can_rectify(r.get("status"), r.get("satisfaction"))


def _rectify_again(r: dict[str, Any]) -> bool:
    """Would a rectify record be a further one, 再次整改 (the core's rule: ``core.rectify.rectify_again``)?"""
    from qi_station.core import rectify

    return rectify.rectify_again(r.get("status"), r.get("satisfaction"), r.get("events") or [])


class RequestLoaded(Message):
    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__()
        self.request = request


class LoadFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class RequestDetailScreen(StationScreen):
    CSS_PATH = "request_detail.tcss"
    BINDINGS = bindings("detail")
    SCREEN_KEY = "detail"

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.req: dict[str, Any] | None = None
        self._load_failed = False
        self._buttons: list[tuple[str, str]] = []  # (action id, label) of the buttons on screen

    #: the 编号/状态, 企业名称 and 信用代码/登记地 lines (the first of #fields, ``key_rows`` rows as
    #: wrapped): toasts keep off them (:mod:`qi_station.screens.toasts`)
    KEY_LINES = ("fields",)
    key_rows = 3

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="titlebar", markup=False)
        with VerticalScroll(id="detail"):
            with Vertical(classes="panel"):
                yield Static(t("msg.loading"), id="fields", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("detail.actions"), classes="panel-title", markup=False)
                yield Static("", id="actions", markup=False)
                yield Grid(id="action-bar")
            with Vertical(classes="panel"):
                yield Static(t("detail.referrals"), classes="panel-title", markup=False)
                yield Static("", id="referrals", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("detail.timeline"), classes="panel-title", markup=False)
                yield Static("", id="timeline", markup=False)
        yield StationFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.station.current_request = self.request_id
        self.station.current_request_status = None  # not read yet
        self.refresh_data()

    _reading = False  # a read of the request is on its way (holds_keys)

    def refresh_data(self) -> None:
        self._reading = True
        self.load(self.station.db_path, self.request_id)

    @work(thread=True, exclusive=True, group="detail")
    def load(self, db_path: Path, request_id: str) -> None:
        from qi_station.services.queries import get_request

        try:
            req = get_request(db_path, request_id)
        except Exception as e:  # noqa: BLE001
            self.post_message(LoadFailed(error_message(e)))
            return
        self.post_message(RequestLoaded(req))

    def holds_keys(self, key: str = "") -> bool:
        """Keys typed before the request is read wait for it (``v`` right after Enter on the ledger),
        and after a write until it is read again (``a Ctrl+S s Ctrl+S``: ``s`` needs the status 受理
        wrote): the app holds them (``StationApp._hold_for_focus``)."""
        return (self.req is None or self._reading) and not self._load_failed

    @on(LoadFailed)
    def _failed(self, event: LoadFailed) -> None:
        self._load_failed, self._reading = True, False
        self.query_one("#fields", Static).update(event.message)

    @on(RequestLoaded)
    def _loaded(self, event: RequestLoaded) -> None:
        self._reading = False
        self.show(event.request)

    def show(self, r: dict[str, Any]) -> None:
        self.req = r
        if self.is_current:  # a page under another (reloaded late) never takes "the current request"
            self.station.current_request = r["id"]
            self.station.current_request_label = f"{r['number']} {r['title']}"
            self.station.current_request_status = r["status"]
        overdue = f"  [{t('detail.overdue')}]" if r.get("overdue") else ""
        lines = [
            f"{t('field.number')}: {r['number']}    {t('field.status')}: {status_name(r['status'])}{overdue}",
            f"{t('field.enterprise')}: {r['enterprise_name']}"
            + (
                f"  {t('detail.logged_as', name=r['enterprise_former_name'])}"
                if r.get("enterprise_former_name")
                else ""
            ),
            f"{t('field.uscc')}: {r['uscc']}   {t('field.region')}: {city_name(r.get('region_code'))}"
            + (f"   {t('field.location')}: {r['location_name']}" if r.get("location_name") else ""),
            f"{t('field.elements')}: {elements_text(r['elements'])}",
            f"{t('field.title')}: {r['title']}",
        ]
        if r.get("description"):
            lines.append(f"{t('field.description')}: {r['description']}")
        lines += [
            f"{t('field.channel')}: {channel_name(r['channel'])}   {t('field.urgency')}: {urgency_name(r['urgency'])}",
            f"{t('field.received_at')}: {_time(r['received_at'])}   {t('field.promised')}: {r['promised_date']}",
        ]
        days = _days_line(r)
        if days:
            lines.append(days)
        if r.get("contact_name") or r.get("phone_display"):
            lines.append(
                f"{t('field.contact')}: {r.get('contact_name') or t('show.not_given')}   "
                f"{t('field.phone')}: {r.get('phone_display') or t('show.not_given')}"
            )
        lines.append(f"{t('field.operator')}: {r.get('operator') or ''}")
        if r.get("resolved_at") or r.get("result"):
            label = t("field.result") if r.get("resolved_at") else t("detail.result_superseded")  # reopened
            lines.append(f"{label}: {r.get('result') or ''}")
            lines.append(
                f"{t('field.problems_solved')}: {r.get('problems_solved') or 0}   "
                f"{t('field.cost_saved')}: {r.get('cost_saved_wan') or '0.00'}"
                # 收费金额 of the resolution it stands on (core.chain.request_fee)
                + (f"   {t('field.fee')}: {r['fee_yuan']}" if r.get("fee_yuan") is not None else "")
            )
        if r.get("satisfaction"):
            lines.append(
                f"{t('field.satisfaction')}: {satisfaction_name(r['satisfaction'])}"
                + (f"   {t('field.note')}: {r['followup_note']}" if r.get("followup_note") else "")
            )
        if _rectifiable(r) and r.get("rectify_due"):
            from qi_station.core.rectify import rectify_records

            done = rectify_records(r["events"])
            state = {0: t("rectify.open"), 1: t("rectify.done")}.get(len(done)) or t(
                "rectify.done_n", n=len(done)
            )
            lines.append(t("rectify.due", due=r["rectify_due"], state=state))
            if done:  # the last one made: 再次整改 adds to it, never replaces it
                last = done[-1]
                lines.append(
                    t("rectify.last", at=_time(last["at"]), by=last["data"].get("by") or last["actor"])
                    + f": {last['data'].get('action') or last.get('note') or ''}"
                )
        for o in r.get("hub_overrides") or ():  # this station's move overrode the province's (a cancel)
            lines.append(
                t(
                    "detail.hub_override",
                    hub=status_name(o.get("hub_status")),
                    own=status_name(o.get("status")),
                )
            )
        if not r.get("ledger_ok", True):
            lines.append(t("detail.chain_broken", n=r.get("ledger_broken_at")))
        fields = self.query_one("#fields", Static)
        self.key_rows = len(_hanging(lines[:3], fields))  # 编号/状态, 企业名称, 信用代码/登记地 as wrapped
        self.query_one("#fields", Static).update("\n".join(_hanging(lines, fields)))
        # the toasts shown before the request was read (已登记 … from the form) move off its key lines
        self.call_after_refresh(self.station._refresh_notifications)
        buttons: list[tuple[str, str]] = []
        for st, kid in MOVE_KEYS.items():  # the footer's order
            if st in r["legal_moves"]:
                reopen = domain.is_reopen(r["status"], st)  # not 办理: 重新办理
                buttons.append((st, self._button_label(kid, move_name(r["status"], st) if reopen else None)))
        moves = bool(buttons)
        start = (
            move_name(r["status"], "in_progress") if domain.is_reopen(r["status"], "in_progress") else None
        )
        relabel_binding(self, "detail.start", start or t("key.start"))  # the footer says what the button says
        if domain.can_refer(r["status"]):
            buttons.append(("refer", self._button_label("detail.refer")))
        buttons.append(("note", self._button_label("detail.note")))
        if correctable(r["status"]):
            buttons.append(("correct", self._button_label("detail.correct")))
        if _rectifiable(r):
            again = _rectify_again(r)  # the footer says what the button says
            buttons.append(
                ("rectify", self._button_label("detail.rectify", t("key.rectify_again") if again else None))
            )
            relabel_binding(self, "detail.rectify", t("key.rectify_again" if again else "key.rectify"))
        self.query_one("#actions", Static).update("" if moves else t("detail.no_actions"))
        self.query_one("#actions").display = not moves
        if buttons != self._buttons:
            self._buttons = buttons
            self.call_later(self._set_buttons, buttons)
        refs = [
            f"{_time(x['created_at'])}  {kind_name(x['kind'])}: "
            f"{x['item_name']}" + (f"  ({x['note']})" if x.get("note") else "")
            for x in r["referrals"]
        ]
        self.query_one("#referrals", Static).update("\n".join(refs) or t("detail.no_referrals"))
        evs = []
        for e in r["events"]:
            what = event_name(e["kind"])
            move = ""
            if e.get("to_status") and e.get("from_status") != e.get("to_status"):
                move = (
                    f" {status_name(e.get('from_status'))} > {status_name(e['to_status'])}"
                    if e.get("from_status")
                    else f" {status_name(e['to_status'])}"
                )
                if domain.is_reopen(e.get("from_status"), e["to_status"]):
                    move += f" ({move_name(e['from_status'], e['to_status'])})"
            extra = ""
            if e["kind"] == "referral":
                extra = f" {e['data'].get('item_name', '')}"
                if e["data"].get("reason"):  # referred although not qualified: the reason given
                    extra += f"  [{t('field.reason')}: {e['data']['reason']}]"
            if e["kind"] == "status" and e["data"].get("charged"):  # 收费 with the resolution
                extra = f"  {t('field.fee')}: {e['data'].get('fee')}"
            if e["kind"] == "correct":
                extra = " " + correction_text(e["data"])
            # a rectify record's 整改人; a 办结's 办理结果 and 解决问题数 (as ``request show`` prints them)
            extra += event_detail(e["kind"], e["data"], outcome=True)
            note = f"  ({e['note']})" if e.get("note") else ""
            fixed = f"  [{t('detail.corrected', n=e['corrected_by'])}]" if e.get("corrected_by") else ""
            evs.append(f"{e['n']:>2}. {_time(e['at'])}  {e['actor']}  {what}{move}{extra}{note}{fixed}")
        timeline = self.query_one("#timeline", Static)
        timeline.update("\n".join(_hanging(evs, timeline, indent=4)))
        self.refresh_bindings()
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

    def _button_label(self, kid: str, name: str | None = None) -> str:
        key = self.station.keys_of(kid)[0]
        return f"{name or t(keymap.BY_ID[kid].description)} {key}"  # the key as the footer shows it: a

    async def _set_buttons(self, buttons: list[tuple[str, str]]) -> None:
        """The legal actions as buttons (mouse), in the same order as their keys in the footer."""
        bar = self.query_one("#action-bar", Grid)
        with self.app.batch_update():
            await bar.remove_children()
            await bar.mount_all(
                [Button(label, id=f"act-{action}", compact=True) for action, label in buttons]
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = (event.button.id or "").removeprefix("act-")
        if action == "refer":
            self.action_refer()
        elif action == "note":
            self.action_note()
        elif action == "correct":
            self.action_correct()
        elif action == "rectify":
            self.action_rectify()
        elif action:
            self.action_move(action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "move":
            return self.req is not None and parameters[0] in self.req["legal_moves"]
        if action == "refer":
            return self.req is not None and domain.can_refer(self.req["status"])
        if action == "correct":
            return self.req is not None and bool(correctable(self.req["status"]))
        if action == "rectify":
            return self.req is not None and _rectifiable(self.req)
        return True

    def _keys(self, kid: str) -> list[str]:
        return self.station.keys_of(kid)

    def on_key(self, event: Any) -> None:
        """A move, 转办, 更正 or 整改 key that the status does not allow (hidden from the footer, so
        Textual skips it): say why with the core rule's own message instead of doing nothing."""
        if self.req is None:
            return
        from qi_station.core.errors import TransitionError, ValidationError
        from qi_station.core.rectify import check_rectify_target

        r = self.req
        for st, kid in MOVE_KEYS.items():
            if event.key in self._keys(kid) and st not in r["legal_moves"]:
                event.stop()
                self.notify(err_text(TransitionError(r["status"], st)), severity="warning")
                return
        rules = {
            "detail.refer": lambda: domain.check_refer(r["status"]),
            "detail.correct": lambda: domain.check_any_correctable(r["status"]),
            "detail.rectify": lambda: check_rectify_target(r["status"], r.get("satisfaction")),
        }
        for kid, rule in rules.items():
            if event.key in self._keys(kid):
                try:
                    rule()
                except ValidationError as e:
                    event.stop()
                    self.notify(err_text(e), severity="warning")
                return

    def _head_only(self, action: str) -> bool:
        """A 站长-only action (``core.domain.role_may``) asked by another staff member: say so before a
        dialog is filled in for nothing (the write refuses it anyway)."""
        staff = {s["name"]: s["role"] for s in self.station.staff}
        if not staff or domain.role_may(staff.get(self.station.operator or ""), action):
            return False
        role = staff.get(self.station.operator or "")
        self.notify(
            t("msg.head_only", name=self.station.operator or "", role=role_name(role) if role else ""),
            severity="warning",
        )
        return True

    def action_move(self, to_status: str) -> None:
        from qi_station.screens.dialogs import MoveDialog

        if self.req is None or to_status not in self.req["legal_moves"]:
            return
        if to_status == "cancelled" and self._head_only("cancel"):
            return
        self.app.push_screen(MoveDialog(self.req["id"], self.req["number"], to_status), self._moved)

    def _moved(self, row: dict[str, Any] | None) -> None:
        if row:
            self.notify(t("msg.moved", number=row["number"], status=status_name(row["status"])))
            self.refresh_data()

    def action_refer(self) -> None:
        from qi_station.screens.dialogs import ReferDialog

        if self.req is None or not domain.can_refer(self.req["status"]):
            return
        self.app.push_screen(ReferDialog(self.req["id"], self.req["number"]), self._referred)

    def _referred(self, row: dict[str, Any] | None) -> None:
        if row:
            self.notify(referred_text(row))
            self.refresh_data()

    def action_note(self) -> None:
        from qi_station.screens.dialogs import NoteDialog

        if self.req is None:
            return
        self.app.push_screen(NoteDialog(self.req["id"], self.req["number"]), self._noted)

    def _noted(self, event: dict[str, Any] | None) -> None:
        if event:
            self.notify(t("msg.noted", number=self.req["number"] if self.req else ""))
            self.refresh_data()

    def action_correct(self) -> None:
        from qi_station.screens.correct_dialog import CorrectDialog

        if self.req is None or not correctable(self.req["status"]) or self._head_only("correct"):
            return
        self.app.push_screen(CorrectDialog(self.req), self._corrected)

    def _corrected(self, got: dict[str, Any] | None) -> None:
        if got:
            self.notify(t("msg.corrected", number=got["number"]))
            self.refresh_data()

    def action_open_enterprise(self) -> None:
        from qi_station.screens.enterprise import EnterpriseScreen

        if self.req is not None:
            self.app.push_screen(EnterpriseScreen(self.req["enterprise_id"]))

    def action_rectify(self) -> None:
        from qi_station.screens.rectify import RectifyDialog

        if self.req is None or not _rectifiable(self.req):
            return
        again = _rectify_again(self.req)
        self.app.push_screen(RectifyDialog(self.req["id"], self.req["number"], again), self._rectified)

    def _rectified(self, event: dict[str, Any] | None) -> None:
        if event:
            self.notify(t("msg.rectified", number=self.req["number"] if self.req else ""))
            self.refresh_data()

    def action_back(self) -> None:
        self.dismiss(None)


def _hanging(lines: list[str], box: Static, indent: int | None = None) -> list[str]:
    """``lines`` wrapped to ``box``'s width by :func:`~qi_station.screens.cells.hang`: a field's
    continuation (a description's next line, a wrap) under its value, a log line's under its time, and
    never ``收费金额(元):`` apart from its amount."""
    from rich.cells import cell_len

    from qi_station.screens.cells import hang

    width = box.content_region.width or max(20, box.screen.size.width - 6)
    out: list[str] = []
    for line in lines:
        label, sep, _ = line.partition(": ")
        at = indent if indent is not None else (cell_len(label) + 2 if sep and "\n" not in label else 2)
        out += hang(line, width, at)
    return out


def _days_line(r: dict[str, Any]) -> str:
    """Days taken (and overdue) in working days beside calendar days; "?" where the holiday calendar does
    not cover the stretch (``services.queries`` counts them with ``core.workdays.request_days``)."""

    def wd(n: Any) -> str:
        return "?" if n is None else str(n)

    parts = []
    if r.get("days_taken") is not None:
        key = "detail.took" if r.get("resolved_at") else "detail.open_for"
        parts.append(t(key, workdays=wd(r.get("workdays_taken")), days=r["days_taken"]))
    if r.get("overdue_days") is not None:
        parts.append(t("detail.overdue_by", workdays=wd(r.get("overdue_workdays")), days=r["overdue_days"]))
    return "   ".join(parts)
