"""The rectify dialog (整改) of a request rated 不满意 / 非常不满意: what was done and by whom. The core
(``services.ledger.rectify_request`` → ``core.rectify``) decides; the dialog stays open on an error."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label

from qi_station.i18n import t
from qi_station.screens.dialogs import WorkerDialog


class RectifyDialog(WorkerDialog):
    """``again``: the request has a rectify record already (``core.rectify.rectify_again``): this one adds
    a further step (再次整改), the earlier ones stay."""

    def __init__(self, request_id: str, number: str, again: bool = False) -> None:
        super().__init__()
        self.request_id, self.number, self.again = request_id, number, again

    def dialog_title(self) -> str:
        return t("rectify.title_again" if self.again else "rectify.title", number=self.number)

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(t("field.action"))
            yield Input(id="action", compact=True, max_length=2000)
        with Horizontal(classes="row"):
            yield Label(t("field.by"))
            yield Input(id="by", compact=True, max_length=50, placeholder=t("ph.by"))

    def on_mount(self) -> None:
        self.query_one("#action", Input).focus()

    def action_ok(self) -> None:
        db, rid = self.station.db_path, self.request_id
        action = self.query_one("#action", Input).value
        by = self.query_one("#by", Input).value.strip() or None

        def job() -> Any:
            from qi_station.services.ledger import rectify_request

            return rectify_request(db, rid, action, by=by)

        self.write(job)
