"""Sync: last sync, pending changes and the sync log from the core tables; run a sync and export or
import a bundle file when the sync client (``qi_station.sync.station.client``) is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from qi_station.i18n import t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings

STATUS_KEYS = ("hub", "station", "enrolled", "last_success", "last_error", "conflicts")


def client_available() -> bool:
    try:
        return importlib.util.find_spec("qi_station.sync.station.client") is not None
    except (ImportError, ValueError):
        return False


class StatusLoaded(Message):
    """The sync client's status (empty without the client) and :func:`services.workspace.sync_overview`."""

    def __init__(self, status: dict[str, Any], overview: dict[str, Any]) -> None:
        super().__init__()
        self.status, self.overview = status, overview


class StatusFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class JobProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class JobDone(Message):
    def __init__(self, message: str, failed: bool) -> None:
        super().__init__()
        self.message, self.failed = message, failed


class SyncScreen(MainScreen):
    SCREEN_KEY = "sync"
    CSS_PATH = "sync.tcss"
    BINDINGS = bindings("sync")

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sync-body"):
            with Vertical(classes="panel"):
                yield Static(t("sync.status"), classes="panel-title", markup=False)
                yield Static(t("msg.loading"), id="sync-status", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("sync.bundle"), classes="panel-title", markup=False)
                with Horizontal(classes="frow"):
                    yield Label(t("field.bundle_path"))
                    yield Input(id="bundle", compact=True, placeholder=t("ph.bundle"))
                yield Static("", id="sync-progress", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("sync.log"), classes="panel-title", markup=False)
                yield Static("", id="sync-log", markup=False)
        yield Static(
            t("sync.available") if client_available() else t("sync.unavailable"),
            id="status-line",
            markup=False,
        )

    def on_mount(self) -> None:
        if self.station.ready:
            self.refresh_data()

    def refresh_data(self) -> None:
        self.load(self.station.db_path)

    def action_refresh(self) -> None:
        self.refresh_data()

    @work(thread=True, exclusive=True, group="sync-status")
    def load(self, db_path: Path) -> None:
        from qi_station.services.workspace import sync_overview

        try:
            status: dict[str, Any] = {}
            if client_available():
                from qi_station.sync.station import client

                status = dict(client.sync_status(db_path))
            overview = sync_overview(db_path)
        except Exception as e:  # noqa: BLE001
            self.post_message(StatusFailed(error_message(e)))
            return
        self.post_message(StatusLoaded(status, overview))

    @on(StatusFailed)
    def _status_failed(self, event: StatusFailed) -> None:
        self.query_one("#sync-status", Static).update(event.message)

    @on(StatusLoaded)
    def _status_loaded(self, event: StatusLoaded) -> None:
        self.show(event.status, event.overview)

    def show(self, status: dict[str, Any], overview: dict[str, Any]) -> None:
        last, ok, log = overview["last"], overview["ok"], overview["log"]
        lines = [
            t(
                "sync.last",
                at=str(last)[:16] if last else t("sync.never"),
                state="" if ok is None else (t("dash.sync_ok") if ok else t("dash.sync_failed")),
            ),
            t("sync.pending", n=f"{overview['pending']:,}"),
        ]
        for k in STATUS_KEYS:
            v = status.get(k)
            if v not in (None, ""):
                lines.append(f"{t('sync.k.' + k)}: {v}")
        self.query_one("#sync-status", Static).update("\n".join(lines))
        rows = [
            f"{str(r['started_at'])[:16]}  {r['mode']}  +{r['pushed']}/-{r['pulled']}  "
            f"{t('dash.sync_ok') if r['ok'] else t('dash.sync_failed')}"
            + (f"  {str(r['error'])[:40]}" if r.get("error") else "")
            for r in log
        ]
        self.query_one("#sync-log", Static).update("\n".join(rows) or t("sync.no_log"))
        self.add_class("loaded")

    # ---- actions (need the sync client) -----------------------------------------------------------
    def _need_client(self) -> bool:
        if not client_available():
            self.notify(t("sync.unavailable"), severity="warning")
            return False
        return True

    def action_run_sync(self) -> None:
        if self._need_client():
            self.query_one("#sync-progress", Static).update(t("sync.running"))
            self.run_job(self.station.db_path, "sync", "")

    def action_export_bundle(self) -> None:
        self._bundle_job("export")

    def action_import_bundle(self) -> None:
        self._bundle_job("import")

    def _bundle_job(self, job: str) -> None:
        path = self.query_one("#bundle", Input).value.strip()
        if not path:
            self.notify(t("sync.need_path"), severity="warning")
            self.query_one("#bundle", Input).focus()
            return
        if self._need_client():
            self.run_job(self.station.db_path, job, path)

    @work(thread=True, exclusive=True, group="sync-job")
    def run_job(self, db_path: Path, job: str, path: str) -> None:
        from qi_station.services import files
        from qi_station.sync.station import bundles, client

        def progress(*args: Any, **kw: Any) -> None:
            text = " ".join(str(a) for a in args) + " ".join(f"{k}={v}" for k, v in kw.items())
            self.post_message(JobProgress(text[:200]))

        try:
            if job == "sync":
                result = client.run_sync(db_path, progress=progress)
            elif job == "export":  # a relative path: in the export folder, never where the app started
                result = bundles.export_bundle(
                    db_path, files.export_path(path, "", "zip", base=files.export_dir())
                )
            else:
                result = bundles.import_bundle(db_path, path)
        except Exception as e:  # noqa: BLE001
            self.post_message(JobDone(error_message(e), True))
            return
        self.post_message(JobDone(t("sync.done", result=str(result)[:200]), False))

    @on(JobProgress)
    def _progress(self, event: JobProgress) -> None:
        self.query_one("#sync-progress", Static).update(event.text)

    @on(JobDone)
    def _done(self, event: JobDone) -> None:
        self.query_one("#sync-progress", Static).update(event.message)
        self.notify(event.message, severity="error" if event.failed else "information")
        self.refresh_data()
