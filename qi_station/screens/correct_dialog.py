"""The correction dialog (a ``correct`` event: field, new value, reason) and how the detail shows one.
The rules are the core's (``core.validate.parse_correction``, a 站长 only); the dialog asks and shows."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from qi_station.core import domain
from qi_station.i18n import field_label, satisfaction_name, t
from qi_station.screens.dialogs import WorkerDialog
from qi_station.screens.widgets import Choice


def correctable(status: str) -> list[str]:
    """The fields a request in ``status`` holds and may correct (the core's table)."""
    return domain.correctable_fields(status)


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


def _placeholder(field: str) -> str:
    """The new value's example where its unit matters: 节约成本 is in 万元 (2.5, never 1200.50)."""
    return t("ph.cost_saved") if field == "cost_saved" else ""


def _current(req: dict[str, Any], field: str) -> Any:
    from qi_station.services.corrections import detail_value

    return detail_value(req, field)


class CorrectDialog(WorkerDialog):
    """Correct a recorded outcome or follow-up value: the original stays in the history."""

    def __init__(self, req: dict[str, Any]) -> None:
        super().__init__()
        self.req = req
        self.fields = correctable(req["status"])
        self._field = self.fields[0]  # the 更正项 the value box is for now
        self._typed: dict[str, str] = {}  # what was typed for each 更正项 (kept while another is shown)

    def dialog_title(self) -> str:
        return t("correct.title", number=self.req["number"])

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(t("field.field"))
            yield Choice([(f, field_label(f)) for f in self.fields], self.fields[0], id="field")
        yield Static(self._current_text(self.fields[0]), id="current", classes="muted", markup=False)
        with Horizontal(classes="row"):
            yield Label(t("field.value"))
            yield Input(id="value", compact=True, placeholder=_placeholder(self.fields[0]))
        with Horizontal(classes="row"):
            yield Label(t("field.reason"))
            yield Input(id="reason", compact=True, max_length=2000)

    def _current_text(self, field: str) -> str:
        return t("correct.current", value=shown_value(field, _current(self.req, field)))

    def on_choice_changed(self, event: Choice.Changed) -> None:
        """Another 更正项: the value typed for the previous one never carries over (a satisfaction's
        ``4`` was saved as 解决问题数 4); the box shows what was typed for this one (empty at first), and
        the messages about the previous one's value go (原因's stays: it is still missing)."""
        event.stop()
        field = str(event.value)
        box = self.query_one("#value", Input)
        self._typed[self._field] = box.value
        self._field = field
        with self.prevent(Input.Changed):
            box.value = self._typed.get(field, "")
        box.placeholder = _placeholder(field)
        self.query_one("#current", Static).update(self._current_text(field))
        self.drop_errors("value", "field")

    def action_ok(self) -> None:
        db, rid, actor = self.station.db_path, self.req["id"], self.station.operator
        field = self.query_one("#field", Choice).value
        value, reason = self.query_one("#value", Input).value, self.query_one("#reason", Input).value

        def job() -> Any:
            from qi_station.services.corrections import correct_request

            return correct_request(db, rid, field, value, reason, actor=actor)

        self.write(job)
