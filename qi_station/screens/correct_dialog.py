"""The correction dialog (a ``correct`` event: field, new value, reason) and how the detail shows one.
The rules are the core's (``core.validate.parse_correction``, a 站长 only); the dialog asks and shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from qi_station.core import domain
from qi_station.i18n import err_text, field_label, satisfaction_name, t
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import Failed, Saved, WorkerDialog
from qi_station.screens.widgets import Choice


def correctable(status: str) -> list[str]:
    """The fields a request in ``status`` holds and may correct (the core's table)."""
    return [f for f in domain.CORRECTABLE if status in domain.CORRECTABLE_IN[f]]


def shown_value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if field == "satisfaction":
        return f"{value} {satisfaction_name(int(value))}"
    return str(value)


def correction_text(data: dict[str, Any]) -> str:
    """``满意度: 1 非常不满意 > 4 满意`` for a correct event's data."""
    f = str(data.get("field"))
    return f"{field_label(f)}: {shown_value(f, data.get('old'))} > {shown_value(f, data.get('new'))}"


def _current(req: dict[str, Any], field: str) -> Any:
    return req.get("cost_saved_wan") if field == "cost_saved" else req.get(domain.CORRECTABLE[field])


class CorrectDialog(WorkerDialog):
    """Correct a recorded outcome or follow-up value: the original stays in the history."""

    BINDINGS = bindings("modal")

    def __init__(self, req: dict[str, Any]) -> None:
        super().__init__()
        self.req = req
        self.fields = correctable(req["status"])

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("correct.title", number=self.req["number"]), classes="dialog-title", markup=False)
            with Horizontal(classes="row"):
                yield Label(t("field.field"))
                yield Choice([(f, field_label(f)) for f in self.fields], self.fields[0], id="field")
            yield Static(self._current_text(self.fields[0]), id="current", classes="muted", markup=False)
            with Horizontal(classes="row"):
                yield Label(t("field.value"))
                yield Input(id="value", compact=True)
            with Horizontal(classes="row"):
                yield Label(t("field.reason"))
                yield Input(id="reason", compact=True, max_length=2000)
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t("btn.save"), id="ok", variant="primary", compact=True)
                yield Button(t("btn.cancel"), id="cancel", compact=True)

    def _current_text(self, field: str) -> str:
        return t("correct.current", value=shown_value(field, _current(self.req, field)))

    def on_choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        self.query_one("#current", Static).update(self._current_text(str(event.value)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_ok()
        else:
            self.dismiss(None)

    def action_ok(self) -> None:
        self.query_one("#error", Static).update(t("msg.saving"))
        self.save(
            self.station.db_path,
            self.req["id"],
            self.query_one("#field", Choice).value,
            self.query_one("#value", Input).value,
            self.query_one("#reason", Input).value,
        )

    @work(thread=True, exclusive=True, group="correct")
    def save(self, db_path: Path, request_id: str, field: str, value: str, reason: str) -> None:
        from qi_station.services.corrections import correct_request

        try:
            got = correct_request(db_path, request_id, field, value, reason, actor=self.station.operator)
        except Exception as e:  # noqa: BLE001 - shown in the dialog, the input is kept
            self.post_message(Failed(e))
            return
        self.post_message(Saved(got))

    def validation_text(self, e: Any) -> str:
        return f"{field_label(e.field)}: {err_text(e)}"

    def action_cancel(self) -> None:
        self.dismiss(None)
