"""Ctrl+R in a library: confirm the referral with a note; an institution not qualified for the request's
elements shows the warning and asks for a reason (the ledger refuses it without one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from qi_station.i18n import kind_name, t
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import Failed, Saved, WorkerDialog


class ReferConfirmDialog(WorkerDialog):
    """Refer ``request_id`` to one library item after the operator confirms; ``check`` is
    :func:`qi_station.services.referral.precheck`'s answer (``needs_reason``, ``message``)."""

    BINDINGS = bindings("modal")

    def __init__(
        self, request_id: str, label: str, kind: str, item: dict[str, Any], check: dict[str, Any]
    ) -> None:
        super().__init__()
        self.request_id, self.label, self.kind, self.item, self.check = request_id, label, kind, item, check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("refer.title", number=self.label), classes="dialog-title", markup=False)
            yield Static(
                t("refer.confirm", kind=kind_name(self.kind), name=self.item["name"]),
                id="refer-target",
                markup=False,
            )
            if self.check.get("needs_reason"):
                yield Static(
                    t("refer.unqualified", state=t("qual." + str(self.check.get("state")))),
                    id="refer-warning",
                    classes="error",
                    markup=False,
                )
            with Horizontal(classes="row"):
                yield Label(t("field.note"))
                yield Input(id="note", compact=True, max_length=2000)
            if self.check.get("needs_reason"):
                with Horizontal(classes="row"):
                    yield Label(t("field.reason"))
                    yield Input(id="reason", compact=True, max_length=200, placeholder=t("ph.reason"))
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t("btn.refer"), id="ok", variant="primary", compact=True)
                yield Button(t("btn.cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self) -> None:
        self.action_ok()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_ok()
        else:
            self.dismiss(None)

    def action_ok(self) -> None:
        reason = self.query("#reason")
        self.refer(
            self.station.db_path,
            self.request_id,
            self.kind,
            self.item["id"],
            self.query_one("#note", Input).value,
            reason.first(Input).value if reason else "",
        )

    @work(thread=True, exclusive=True, group="refer")
    def refer(self, db_path: Path, request_id: str, kind: str, item_id: str, note: str, reason: str) -> None:
        from qi_station.services.ledger import refer_request

        try:
            row = refer_request(
                db_path,
                request_id,
                kind,
                item_id,
                note or None,
                actor=self.station.operator,
                reason=reason or None,
            )
        except Exception as e:  # noqa: BLE001
            self.post_message(Failed(e))
            return
        self.post_message(Saved(row))

    def action_cancel(self) -> None:
        self.dismiss(None)
