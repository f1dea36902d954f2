"""The backup dialog (command palette: 备份数据库): a consistent copy of the station database, made by
the CLI's own service (``services.backup.backup_db``: the same rules for where it may write) in a thread
worker; the dialog says it is working, then the app's toast names the file written; the dialog opened
again shows where the last one went (its full path)."""

from __future__ import annotations

import os
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from qi_station.i18n import t
from qi_station.screens.dialogs import WorkerDialog


def default_folder() -> str:
    """The export folder (``services.files.export_dir``, made on first use as exports make it), with a
    trailing separator: "into this folder"."""
    from qi_station.services.files import export_dir

    return str(export_dir()) + os.sep


class BackupDialog(WorkerDialog):
    """备份到: a folder (a trailing separator; the file is named qi-backup-<station>-<time>.db) or a file."""

    OK_LABEL = "backup.ok"
    FIELD_LABELS = {"out": "field.backup_out"}  # a refusal names 备份到, not the CLI's --out

    def dialog_title(self) -> str:
        return t("backup.title")

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(t("field.backup_out"))
            yield Input(default_folder(), id="out", compact=True)
        yield Static(t("backup.hint"), classes="muted", markup=False)
        if self.station.last_backup:
            yield Static(t("backup.last", done=self.station.last_backup), id="last-backup", markup=False)
        from qi_station.sync.station.heal import restored_next_step

        step = restored_next_step(self.station.db_path, self.station.lang)  # restored: what to do next
        if step:
            yield Static(step, id="restored-next", classes="warning", markup=False)

    def on_mount(self) -> None:
        self.query_one("#out", Input).focus()

    def on_input_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        db, out = self.station.db_path, self.query_one("#out", Input).value.strip()

        def job() -> Any:
            from qi_station.services.backup import backup_db

            path = backup_db(db, out)
            return {"path": str(path), "size": path.stat().st_size}

        self.write(job)
        self.query_one("#error", Static).update(t("backup.working"))
