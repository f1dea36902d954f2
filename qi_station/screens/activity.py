"""Activities that are not requests (visits 走访, training 培训, events 活动): a form to record one and
the month's list. The core (``services.activity`` → ``core.activity``) checks; the screen shows. Reads and
the save run in thread workers that post a message back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from qi_station.core.activity import ACTIVITY_KIND_EN, ACTIVITY_KIND_ZH, ACTIVITY_KINDS
from qi_station.core.clock import today_local
from qi_station.core.months import current_month, shift_month
from qi_station.i18n import err_text, field_label, get_lang, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import LeaveAsks
from qi_station.screens.widgets import Choice

FIELDS = ("date", "enterprises", "people", "title", "note")
#: fields whose shared label (a request's title, a library kind) would mislead here
OWN_LABELS = {"title": "field.activity_title", "kind": "field.activity_kind"}


def kind_label(kind: str) -> str:
    return (ACTIVITY_KIND_EN if get_lang() == "en" else ACTIVITY_KIND_ZH).get(kind, kind)


def activity_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per activity: date, kind, enterprises / people reached, title."""
    return [
        f"{r['date']}  {kind_label(r['kind'])}  {t('field.enterprises')} {r['enterprises']}  "
        f"{t('field.people')} {r['people']}  {r['title']}"
        for r in rows
    ]


class ActivityScreen(LeaveAsks, MainScreen):
    SCREEN_KEY = "activities"
    #: a half-filled form asks before Ctrl+Q drops it (放弃 / 继续编辑); an F-key keeps it (the screen stays)
    LEAVE_ASKS = "activity"
    KEPT_ON_SWITCH = True
    CSS_PATH = "activity.tcss"
    AUTO_FOCUS = "#kind"  # the first field, not the scrolling body (typing went nowhere, Tab one field late)
    BINDINGS = bindings("activity", "main")  # main: Esc goes back as on every main screen

    class Listed(Message):
        def __init__(self, month: str, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
            super().__init__()
            self.month, self.rows, self.error = month, rows, error

    class Done(Message):
        def __init__(self, row: dict[str, Any] | None, error: Exception | None = None) -> None:
            super().__init__()
            self.row, self.error = row, error

    def __init__(self) -> None:
        super().__init__()
        self.month = current_month()
        self._errors: list[Any] = []  # the last refused save's errors still standing (form order)

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="activity-body"):
            with Vertical(classes="panel"):
                yield Static(t("activity.form"), classes="panel-title", markup=False)
                with Horizontal(classes="frow"):
                    yield Label(t("field.activity_kind"))
                    yield Choice([(k, kind_label(k)) for k in ACTIVITY_KINDS], "visit", id="kind")
                    yield Label(t("field.date"), classes="second")
                    yield Input(
                        today_local().isoformat(), id="date", compact=True, placeholder=t("ph.activity_date")
                    )
                with Horizontal(classes="frow"):
                    yield Label(t("field.enterprises"))
                    yield Input("0", id="enterprises", compact=True)
                    yield Label(t("field.people"), classes="second")
                    yield Input("0", id="people", compact=True)
                with Horizontal(classes="frow"):
                    yield Label(t("field.activity_title"))
                    yield Input(id="title", compact=True, max_length=100)
                with Horizontal(classes="frow"):
                    yield Label(t("field.note"))
                    yield Input(id="note", compact=True, max_length=2000)
                yield Static("", id="activity-error", classes="error", markup=False)
                yield Button(t("btn.save"), id="save", variant="primary", compact=True)
            with Vertical(classes="panel"):
                yield Static("", id="month-title", classes="panel-title", markup=False)
                yield Static(t("msg.loading"), id="activities", markup=False)
        yield Static(t("activity.hint"), id="status-line", classes="page-hint", markup=False)

    def on_mount(self) -> None:
        self.remember_opened()
        if self.station.ready:
            self.refresh_data()

    def refresh_data(self) -> None:
        self.query_one("#month-title", Static).update(t("activity.list", month=self.month))
        self.load(self.month, self.db_path)

    def action_month(self, delta: int) -> None:
        self.month = shift_month(self.month, delta)
        self.refresh_data()

    @work(thread=True, exclusive=True, group="activities")
    def load(self, month: str, db_path: Path) -> None:
        from qi_station.services.activity import list_activities

        try:
            rows = list_activities(db_path, month)
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Listed(month, None, error_message(e)))
            return
        self.post_message(self.Listed(month, rows))

    def on_activity_screen_listed(self, msg: Listed) -> None:
        if msg.month != self.month:
            return
        box = self.query_one("#activities", Static)
        if msg.rows is None:
            box.update(msg.error or "")
            return
        box.update("\n".join(activity_lines(msg.rows)) or t("activity.none"))
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.action_save()

    def on_input_submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        data: dict[str, Any] = {f: self.query_one(f"#{f}", Input).value for f in FIELDS}
        data["kind"] = self.query_one("#kind", Choice).value
        self.query_one("#activity-error", Static).update(t("msg.saving"))
        self.save(self.db_path, data)

    @work(thread=True, exclusive=True, group="activity-save")
    def save(self, db_path: Path, data: dict[str, Any]) -> None:
        from qi_station.services.activity import add_activity

        try:
            row = add_activity(db_path, data, actor=self.station.operator)
        except Exception as e:  # noqa: BLE001 - shown beside the form, the input is kept
            self.post_message(self.Done(None, e))
            return
        self.post_message(self.Done(row))

    def _error_text(self) -> str:
        return "\n".join(
            f"{t(OWN_LABELS[e.field]) if e.field in OWN_LABELS else field_label(e.field)}: {err_text(e)}"
            for e in self._errors
        )

    def on_activity_screen_done(self, msg: Done) -> None:
        from qi_station.core.errors import ValidationError, every_error

        err = self.query_one("#activity-error", Static)
        if msg.row is None:
            e = msg.error
            if isinstance(e, ValidationError):  # every bad field at once (the core collects them all)
                order = ["kind", *FIELDS]
                self._errors = sorted(
                    every_error(e), key=lambda x: order.index(x.field) if x.field in order else len(order)
                )
                err.update(self._error_text())
                found = self.query(f"#{self._errors[0].field}")
                if found:
                    found.first().focus()
            else:
                self._errors = []
                err.update(error_message(e) if e else "")
            return
        self._errors = []
        err.update("")
        # the title and note go (a second Ctrl+S is refused, not a duplicate); kind, date, counts stay
        for f in ("title", "note"):
            self.query_one(f"#{f}", Input).value = ""
        self.remember_opened()  # saved: what stays (kind, date, counts) is not "typed"
        self.query_one("#title", Input).focus()
        self.notify(t("activity.saved", title=msg.row["title"]))
        self.month = str(msg.row["date"])[:7]
        self.refresh_data()

    @on(Choice.Changed)
    @on(Input.Changed)
    def _field_edited(self, event: Choice.Changed | Input.Changed) -> None:
        """A field the operator corrects loses its message at once (not at the next Ctrl+S)."""
        field = event.control.id
        if field and any(x.field == field for x in self._errors):
            self._errors = [x for x in self._errors if x.field != field]
            self.query_one("#activity-error", Static).update(self._error_text())
