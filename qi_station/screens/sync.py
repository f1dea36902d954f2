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

from qi_station.i18n import get_lang, has, t
from qi_station.screens.base import MainScreen, brief, error_message
from qi_station.screens.bindings import bindings


def client_available() -> bool:
    try:
        return importlib.util.find_spec("qi_station.sync.station.client") is not None
    except (ImportError, ValueError):
        return False


class StatusLoaded(Message):
    """The station's sync state (:func:`services.workspace.sync_overview`)."""

    def __init__(self, overview: dict[str, Any]) -> None:
        super().__init__()
        self.overview = overview


class StatusFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class JobProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class JobDone(Message):
    """A job's answer: ``message`` for the page's progress line, ``toast`` (when shorter, e.g. the bundle's
    file name instead of its full path) for the toast."""

    def __init__(self, message: str, failed: bool, toast: str | None = None) -> None:
        super().__init__()
        self.message, self.failed, self.toast = message, failed, toast


def _time(stored: object) -> str:
    """A stored naive-UTC time as local 'YYYY-MM-DD HH:MM' (``core.clock.local_minutes``)."""
    from qi_station.core.clock import local_minutes

    return local_minutes(stored)


def log_counts(row: dict[str, Any]) -> str:
    """A sync log row's counts: an imported bundle (``bundle-in…``, ``bundle-restore``) uploads nothing,
    its row says only what it brought (收到 N 条); a sync or an exported bundle both."""
    if str(row.get("mode") or "").startswith(("bundle-in", "bundle-restore")):
        return t("sync.log_received", pulled=row["pulled"])
    return t("sync.log_counts", pushed=row["pushed"], pulled=row["pulled"])


def status_lines(o: dict[str, Any]) -> list[str]:
    """The station's sync state in the UI language: enrolled or not (and how to enroll), hub, last sync
    and its result, changes waiting, the last error, open conflicts."""
    enrolled = o.get("enrolled")
    if enrolled == "online":
        lines = [t("sync.enrolled_online", hub=o.get("hub") or "")]
    elif enrolled in ("offline", "offline-pending"):
        lines = [t(f"sync.enrolled_{enrolled.replace('-', '_')}")]
    else:
        lines = [t("sync.not_enrolled")]
    if enrolled and o.get("enrolment_usable") is False:  # restored on another PC: key or token not here
        lines.append(t("sync.enrolment_unusable", code=o.get("station") or "CODE"))
    if o.get("station"):
        lines.append(t("sync.station", code=o["station"]))
    last, ok = o.get("last"), o.get("ok")
    lines.append(
        t(
            "sync.last",
            at=_time(last) if last else t("sync.never"),
            state="" if ok is None else (t("dash.sync_ok") if ok else t("dash.sync_failed")),
        )
    )
    lines.append(t("sync.pending", n=f"{o.get('pending', 0):,}"))
    err = o.get("last_error")
    if err:
        lines.append(
            t(
                "sync.last_error",
                at=_time(err["at"]) if err.get("at") else "",
                error=in_language(err["message"]),
            )
        )
    if o.get("conflicts"):
        lines.append(t("sync.conflicts", n=o["conflicts"]))
    return lines


def in_language(text: str) -> str:
    """A stored bilingual message ("english / 中文 [code]") in the UI language."""
    if " / " not in text:
        return text
    en, zh = text.rsplit(" / ", 1)
    return en if get_lang() == "en" else zh


def toast_text(message: str) -> str:
    """A job's answer as a toast (at most two lines at 80 columns, :func:`~qi_station.screens.base.brief`):
    "not enrolled" says only that (one line); how to enroll, like any whole answer, stays in the page's
    progress line and status panel."""
    short = {
        t("sync.not_enrolled"): "sync.not_enrolled_short",
        t("sync.bundle_only"): "sync.bundle_only_short",
    }
    return t(short[message]) if message in short else brief(message)


def sync_error(exc: BaseException) -> str:
    """A failed sync or bundle job in the UI language; "not enrolled" says how to enroll."""
    if getattr(exc, "code", None) == "not_enrolled":
        return t("sync.not_enrolled")
    if getattr(exc, "code", None) == "bundle_only":  # enrolled by USB: Ctrl+R has no hub to call
        return t("sync.bundle_only")
    msg = getattr(exc, "message", None)
    if isinstance(msg, str) and " / " in msg:
        return in_language(msg)
    return error_message(exc)


class SyncScreen(MainScreen):
    SCREEN_KEY = "sync"
    CSS_PATH = "sync.tcss"
    BINDINGS = bindings("sync", "main")

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sync-body"):
            with Vertical(classes="panel"):
                yield Static(t("sync.status"), classes="panel-title", markup=False)
                yield Static(t("msg.loading"), id="sync-status", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("sync.bundle"), classes="panel-title", markup=False)
                with Horizontal(classes="frow"):
                    yield Label(t("field.bundle_path"))
                    # typing elsewhere on the page moves here with its first character (on_key):
                    # selecting all on that focus made the second character replace the first
                    yield Input(id="bundle", compact=True, placeholder=t("ph.bundle"), select_on_focus=False)
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

    _restores_seen = 0  # the app's restore count when this page last loaded (``StationApp.restores``)

    def refresh_data(self) -> None:
        if self._restores_seen != self.station.restores:
            self._restores_seen = self.station.restores
            self._start_afresh()
        self.load(self.station.db_path)

    def _start_afresh(self) -> None:
        """After a restore the bundle path and the last job's answer are about the old database (Ctrl+O
        re-imported the old bundle): both go, and the empty path field has focus."""
        bundle = self.query_one("#bundle", Input)
        bundle.value = ""
        self.query_one("#sync-progress", Static).update("")
        self.set_focus(bundle)

    def on_key(self, event: Any) -> None:
        """Text typed while the path field has no focus (after Tab) goes into it, never nowhere."""
        bundle = self.query_one("#bundle", Input)
        if self.focused is bundle or not event.is_printable or event.character in (None, " "):
            return
        event.stop()
        event.prevent_default()
        self.set_focus(bundle)
        bundle.insert_text_at_cursor(event.character)

    def action_refresh(self) -> None:
        self.query_one("#sync-progress", Static).update("")  # the last job's answer goes with the reload
        self.refresh_data()

    @work(thread=True, exclusive=True, group="sync-status")
    def load(self, db_path: Path) -> None:
        from qi_station.services.workspace import sync_overview

        try:
            overview = sync_overview(db_path)
        except Exception as e:  # noqa: BLE001
            self.post_message(StatusFailed(error_message(e)))
            return
        self.post_message(StatusLoaded(overview))

    @on(StatusFailed)
    def _status_failed(self, event: StatusFailed) -> None:
        self.query_one("#sync-status", Static).update(event.message)

    @on(StatusLoaded)
    def _status_loaded(self, event: StatusLoaded) -> None:
        self.show(event.overview)

    def show(self, overview: dict[str, Any]) -> None:
        self.query_one("#sync-status", Static).update("\n".join(status_lines(overview)))
        rows = [
            f"{_time(r['started_at'])}  {t('sync.mode.' + r['mode']) if has('sync.mode.' + r['mode']) else r['mode']}"
            f"  {log_counts(r)}  "
            f"{t('dash.sync_ok') if r['ok'] else t('dash.sync_failed')}"
            + (f"  {in_language(str(r['error']))[:40]}" if r.get("error") else "")
            for r in overview["log"]
        ]
        self.query_one("#sync-log", Static).update("\n".join(rows) or t("sync.no_log"))
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the bundle path cannot tell export from import: say which keys do."""
        event.stop()
        self.notify(t("sync.enter_hint", export=self._key("sync.export"), load=self._key("sync.import")))

    def _key(self, binding_id: str) -> str:
        return self.station.keys_of(binding_id)[0].title()

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

        def progress(phase: str, done: Any = None, total: Any = None, *args: Any, **kw: Any) -> None:
            label = t(f"sync.phase.{phase}") if has(f"sync.phase.{phase}") else str(phase)
            count = "" if done is None else f" {done}" + (f"/{total}" if total else "")
            self.post_message(JobProgress(f"{label}{count}"))

        toast: str | None = None
        try:
            if job == "sync":
                r = client.run_sync(db_path, progress=progress)
                done = t("sync.synced", **{k: r[k] for k in ("pushed", "acked", "pulled", "pending")})
            elif job == "export":  # a relative path: in the export folder, never where the app started
                r = bundles.export_bundle(
                    db_path, files.export_path(path, "", "zip", base=files.export_dir())
                )
                done = t("sync.exported", n=r["changes"], path=r["file"])
                toast = t("sync.exported", n=r["changes"], path=Path(r["file"]).name)
            else:
                # a bare name: also looked for in the export folder, where an export with one went
                r = bundles.import_bundle(db_path, files.input_path(path, files.export_dir()))
                done = {
                    "imported": lambda: t("sync.imported", n=r["applied"]),
                    "healed": lambda: t("sync.healed", n=r["applied"], renumbered=len(r["renumbered"])),
                    "hub_behind": lambda: t("sync.hub_behind", n=r["resent"]),
                }.get(r["status"], lambda: t("sync.stale"))()
        except Exception as e:  # noqa: BLE001
            self.post_message(JobDone(sync_error(e), True))
            return
        self.post_message(JobDone(done, False, toast))

    @on(JobProgress)
    def _progress(self, event: JobProgress) -> None:
        self.query_one("#sync-progress", Static).update(event.text)

    @on(JobDone)
    def _done(self, event: JobDone) -> None:
        self.query_one("#sync-progress", Static).update(event.message)
        self.notify(
            toast_text(event.toast or event.message), severity="error" if event.failed else "information"
        )
        self.refresh_data()
