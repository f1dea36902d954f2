"""The rectify dialog (整改) of a request rated 不满意 / 非常不满意: what was done and by whom. The core
(``services.ledger.rectify_request`` → ``core.rectify``) decides; the dialog stays open on an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from qi_station.i18n import err_text, field_label, t
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import Failed, Saved, WorkerDialog


class RectifyDialog(WorkerDialog):
    BINDINGS = bindings("modal")

    def __init__(self, request_id: str, number: str) -> None:
        super().__init__()
        self.request_id, self.number = request_id, number

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("rectify.title", number=self.number), classes="dialog-title", markup=False)
            with Horizontal(classes="row"):
                yield Label(t("field.action"))
                yield Input(id="action", compact=True, max_length=2000)
            with Horizontal(classes="row"):
                yield Label(t("field.by"))
                yield Input(id="by", compact=True, max_length=50, placeholder=t("ph.by"))
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t("btn.save"), id="ok", variant="primary", compact=True)
                yield Button(t("btn.cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#action", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_ok()
        else:
            self.dismiss(None)

    def action_ok(self) -> None:
        self.query_one("#error", Static).update(t("msg.saving"))
        self.save(
            self.station.db_path,
            self.request_id,
            self.query_one("#action", Input).value,
            self.query_one("#by", Input).value.strip() or None,
        )

    @work(thread=True, exclusive=True, group="rectify")
    def save(self, db_path: Path, request_id: str, action: str, by: str | None) -> None:
        from qi_station.services.ledger import rectify_request

        try:
            ev = rectify_request(db_path, request_id, action, by=by)
        except Exception as e:  # noqa: BLE001 - shown in the dialog, the text is kept
            self.post_message(Failed(e))
            return
        self.post_message(Saved(ev))

    def validation_text(self, e: Any) -> str:
        return f"{field_label(e.field)}: {err_text(e)}"

    def action_cancel(self) -> None:
        self.dismiss(None)
