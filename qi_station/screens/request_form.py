"""Request form (需求登记): enterprise lookup as you type (name, USCC, pinyin initials) with inline
creation, USCC checked live with its region, elements multi-select, channel, urgency, promised date
defaulted from urgency.  Ctrl+S saves in a thread worker; an error is shown beside its field and the
typed input stays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from qi_station.core import domain
from qi_station.i18n import channel_name, city_name, element_short, err_text, field_label, t, urgency_name
from qi_station.screens.base import StationScreen, error_message, title_line
from qi_station.screens.bindings import bindings
from qi_station.screens.widgets import Chip, Choice

# ValidationError.field -> the widget whose error slot shows it
FIELD_SLOT = {
    "enterprise": "enterprise",
    "name": "enterprise",
    "industry": "enterprise",
    "scale": "enterprise",
    "uscc": "uscc",
    "region": "uscc",
    "elements": "elements",
    "title": "title",
    "description": "description",
    "sub_type": "title",
    "channel": "channel",
    "urgency": "urgency",
    "received_at": "received_at",
    "promised": "promised",
    "contact": "contact",
    "phone": "phone",
}
SLOTS = ("enterprise", "uscc", "elements", "title", "description", "channel", "received_at", "contact")
# widgets that share a row share that row's error slot
ROW_OF = {"urgency": "channel", "promised": "received_at", "phone": "contact"}
LOOKUP_DEBOUNCE = 0.15


class EnterprisesFound(Message):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows


class RequestSaved(Message):
    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row


class SaveFailed(Message):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class RequestFormScreen(StationScreen):
    CSS_PATH = "request_form.tcss"
    BINDINGS = bindings("form")

    def __init__(self) -> None:
        super().__init__()
        self._lookup_timer: Timer | None = None
        self._promised_auto = ""
        self._enterprises: list[dict[str, Any]] = []
        self._filling = False
        self.saving = False
        self._submitted: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(title_line(t("screen.new_request")), id="titlebar", markup=False)
        with VerticalScroll(id="form"):
            with Horizontal(classes="frow"):
                yield Label(t("field.enterprise"))
                yield Input(id="enterprise", placeholder=t("ph.enterprise"), compact=True)
            yield OptionList(id="ent-list", classes="hidden")
            yield Static("", id="err-enterprise", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.uscc"))
                yield Input(id="uscc", placeholder=t("ph.uscc"), compact=True, max_length=40)
                yield Static("", id="uscc-region", markup=False)
            yield Static("", id="err-uscc", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow frow-auto"):
                yield Label(t("field.elements"))
                with Grid(id="elements"):
                    for e in domain.ELEMENTS:
                        yield Chip(element_short(e), e, id=f"el-{e}")
            yield Static("", id="err-elements", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.title"))
                yield Input(id="title", placeholder=t("ph.title"), compact=True)
            yield Static("", id="err-title", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.description"))
                yield Input(id="description", compact=True)
            yield Static("", id="err-description", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.channel"))
                yield Choice([(c, channel_name(c)) for c in domain.CHANNELS], "walk_in", id="channel")
                yield Label(t("field.urgency"), classes="second")
                yield Choice([(u, urgency_name(u)) for u in domain.URGENCIES], "normal", id="urgency")
            yield Static("", id="err-channel", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.received_at"))
                yield Input(id="received_at", compact=True, classes="half")
                yield Label(t("field.promised"), classes="second")
                yield Input(id="promised", compact=True, classes="half", placeholder="YYYY-MM-DD")
            yield Static("", id="err-received_at", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.contact"))
                yield Input(id="contact", compact=True, classes="half")
                yield Label(t("field.phone"), classes="second")
                yield Input(id="phone", compact=True, classes="half")
            yield Static("", id="err-contact", classes="field-error hidden", markup=False)
            yield Static(t("form.hint"), id="form-error", classes="muted", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        from qi_station.core.clock import env_now, local

        now = local(env_now())
        self.query_one("#received_at", Input).value = now.strftime("%Y-%m-%d %H:%M")
        self._set_promised_default()
        self.query_one("#enterprise", Input).focus()

    # ---- defaults & live checks ---------------------------------------------------------------
    def _received_date(self) -> Any:
        from qi_station.core.clock import local, parse_datetime

        try:
            return local(parse_datetime(self.query_one("#received_at", Input).value)).date()
        except Exception:  # noqa: BLE001 - the save reports a bad time
            return None

    def _set_promised_default(self) -> None:
        d = self._received_date()
        if d is None:
            return
        urgency = self.query_one("#urgency", Choice).value or "normal"
        value = (d + timedelta(days=domain.PROMISE_DAYS[urgency])).isoformat()
        promised = self.query_one("#promised", Input)
        if not promised.value or promised.value == self._promised_auto:
            self._promised_auto = value
            promised.value = value

    def on_choice_changed(self, event: Choice.Changed) -> None:
        if event.choice.id == "urgency":
            self._set_promised_default()

    def on_input_changed(self, event: Input.Changed) -> None:
        wid = event.input.id
        if wid == "uscc":
            self._check_uscc(event.value)
        elif wid == "received_at":
            self._set_promised_default()
        elif wid == "enterprise" and not self._filling:
            if self._lookup_timer is not None:
                self._lookup_timer.stop()
            q = event.value.strip()
            if q:
                self._lookup_timer = self.set_timer(
                    LOOKUP_DEBOUNCE, lambda: self.lookup(self.station.reader, q)
                )
            else:
                self.query_one("#ent-list").add_class("hidden")
        if wid in FIELD_SLOT and wid != "uscc" and self._submitted.get(wid) != event.value:
            self._set_error(wid, "")  # an edit clears the message (not a late event for the submitted value)

    def _check_uscc(self, value: str) -> None:
        from qi_station.core.errors import ValidationError
        from qi_station.core.validate import uscc_region, uscc_warnings, validate_uscc

        label = self.query_one("#uscc-region", Static)
        v = value.strip().upper()
        if not v:
            label.update("")
            return
        if len(v) < 18:
            label.update(t("form.uscc_count", n=len(v)))
            label.set_classes("muted")
            self._set_error("uscc", "")
            return
        try:
            code = validate_uscc(v)
        except ValidationError as e:
            label.update(t("form.uscc_bad"))
            label.set_classes("error")
            self._set_error("uscc", err_text(e))
            return
        region = uscc_region(code)
        warnings = uscc_warnings(code)  # never refused: saved all the same
        if warnings:
            what = "; ".join(t(f"form.{rule}", code=code[:2], region=region) for rule, _msg in warnings)
            label.update(t("form.uscc_check", what=what))
            label.set_classes("warning")
        else:
            label.update(t("form.uscc_ok", region=city_name(region) or region))
            label.set_classes("ok")
        self._set_error("uscc", "")

    @work(thread=True, exclusive=True, group="lookup")
    def lookup(self, reader: Any, q: str) -> None:
        from qi_station.services.search import search

        try:
            with reader as conn:
                rows = search(conn, "enterprises", q, limit=6)
        except Exception:  # noqa: BLE001 - a bad query just shows no suggestions
            rows = []
        self.post_message(EnterprisesFound(rows))

    @on(EnterprisesFound)
    def _show_enterprises(self, event: EnterprisesFound) -> None:
        rows = self._enterprises = event.rows
        ol = self.query_one("#ent-list", OptionList)
        ol.clear_options()
        if not rows:
            ol.add_class("hidden")
            self.query_one("#err-enterprise", Static).update(t("form.new_enterprise"))
            self.query_one("#err-enterprise").set_classes("field-error muted")

            return
        self._set_error("enterprise", "")
        for r in rows:
            ol.add_option(Option(f"{r['name']}  {r['uscc']}  {r.get('city_name') or ''}", id=r["id"]))
        ol.highlighted = 0
        ol.remove_class("hidden")

    def on_key(self, event: Any) -> None:
        # Down from the enterprise box goes into the suggestions
        if event.key == "down" and self.focused is self.query_one("#enterprise", Input):
            ol = self.query_one("#ent-list", OptionList)
            if not ol.has_class("hidden"):
                ol.focus()
                event.stop()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        idx = event.option_index
        if 0 <= idx < len(self._enterprises):
            r = self._enterprises[idx]
            self._filling = True
            self.query_one("#enterprise", Input).value = r["name"]
            self._filling = False
            self.query_one("#uscc", Input).value = r["uscc"]
            if r.get("contact_name") and not self.query_one("#contact", Input).value:
                self.query_one("#contact", Input).value = r["contact_name"]
            if r.get("phone_display") and not self.query_one("#phone", Input).value:
                self.query_one("#phone", Input).value = r["phone_display"]
        self.query_one("#ent-list").add_class("hidden")
        self.query_one("#el-standards", Chip).focus()

    # ---- errors ----------------------------------------------------------------------------------
    def _set_error(self, field: str, message: str) -> None:
        slot = ROW_OF.get(field, field)
        found = self.query(f"#err-{slot}")
        if not found:
            return
        w = found.first(Static)
        w.update(message)
        w.set_classes("field-error" if message else "field-error hidden")
        widget = self.query(f"#{field}")
        if widget and isinstance(widget.first(), Input):
            widget.first().set_class(bool(message), "-invalid")

    def _clear_errors(self) -> None:
        for slot in SLOTS:
            self._set_error(slot, "")
        for inp in self.query(Input):
            inp.remove_class("-invalid")

    # ---- save ------------------------------------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        val = lambda wid: self.query_one(f"#{wid}", Input).value  # noqa: E731
        return {
            "enterprise": val("enterprise"),
            "uscc": val("uscc"),
            "elements": [c.value for c in self.query(Chip) if c.checked],
            "title": val("title"),
            "description": val("description") or None,
            "channel": self.query_one("#channel", Choice).value,
            "urgency": self.query_one("#urgency", Choice).value,
            "received_at": val("received_at"),
            "promised": val("promised"),
            "contact": val("contact") or None,
            "phone": val("phone") or None,
        }

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        self._clear_errors()
        status = self.query_one("#form-error", Static)
        status.update(t("msg.saving"))
        status.set_classes("muted")
        self._submitted = self.collect()
        self.save(self.station.db_path, self._submitted)

    @work(thread=True, exclusive=True, group="save")
    def save(self, db_path: Path, data: dict[str, Any]) -> None:
        from qi_station.services.ledger import RequestInput, create_request

        try:
            row = create_request(db_path, RequestInput(**data))
        except Exception as e:  # noqa: BLE001 - shown beside the field; the form keeps its input
            self.post_message(SaveFailed(e))
            return
        self.post_message(RequestSaved(row))

    @on(SaveFailed)
    def _failed(self, event: SaveFailed) -> None:
        from qi_station.core.errors import ValidationError

        e = event.error
        self.saving = False
        status = self.query_one("#form-error", Static)
        if isinstance(e, ValidationError):
            field = FIELD_SLOT.get(e.field)
            msg = err_text(e)
            if field:
                self._set_error(field, msg)
                target = self.query(f"#{field}")
                if target and target.first().focusable:
                    target.first().focus()
                elif field == "elements":
                    self.query_one("#el-standards", Chip).focus()
            status.update(t("form.failed", field=field_label(e.field), message=msg))
        else:
            status.update(error_message(e))
        status.set_classes("error")

    @on(RequestSaved)
    def _saved(self, event: RequestSaved) -> None:
        row = event.row
        self.saving = False
        self.notify(t("msg.request_saved", number=row["number"]))
        self.dismiss(None)
        self.station.open_request(row["id"])

    def action_cancel(self) -> None:
        self.dismiss(None)
