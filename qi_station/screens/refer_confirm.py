"""Ctrl+R in a library: confirm the referral with a note; an institution not qualified for the request's
elements shows the warning and asks for a reason (the ledger refuses it without one)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from qi_station.i18n import kind_name, t
from qi_station.screens.dialogs import WorkerDialog


class ReferConfirmDialog(WorkerDialog):
    """Refer ``request_id`` to one library item after the operator confirms; ``check`` is
    :func:`qi_station.services.referral.precheck`'s answer (``needs_reason``, ``message``)."""

    OK_LABEL = "btn.refer"

    def __init__(
        self, request_id: str, label: str, kind: str, item: dict[str, Any], check: dict[str, Any]
    ) -> None:
        super().__init__()
        self.request_id, self.label, self.kind, self.item, self.check = request_id, label, kind, item, check

    def dialog_title(self) -> str:
        return t("refer.title", number=self.label)

    def compose_fields(self) -> ComposeResult:
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

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        reason = self.query("#reason")
        self.refer(
            self.request_id,
            self.kind,
            self.item["id"],
            self.query_one("#note", Input).value,
            reason.first(Input).value if reason else "",
        )
