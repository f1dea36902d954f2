"""What the request form keeps while the operator types: a draft in the database (debounced, in a
thread worker: :mod:`qi_station.services.drafts`), offered back when the form opens next, and the
question before an unsaved form is left (Esc, an F-key, Ctrl+Q: 保存草稿 / 放弃 / 继续编辑)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.message import Message
from textual.timer import Timer

from qi_station.core.ids import uuid7
from qi_station.i18n import t
from qi_station.screens.base import StationScreen
from qi_station.screens.form_dialogs import leave_dialog, restore_dialog

DRAFT_DEBOUNCE = 0.4  # a pause in typing saves the draft


class DraftFound(Message):
    """The draft lookup's answer: the newest kept draft, or None."""

    def __init__(self, draft: dict[str, Any] | None) -> None:
        super().__init__()
        self.draft = draft


class DraftedForm(StationScreen):
    """A form whose typed input is kept as a draft. Subclasses give :meth:`collect` (the fields) and
    :meth:`fill` (put a draft back), call :meth:`touch` on every change, :meth:`start_drafts` once the
    defaults are in place, and :meth:`close_draft` in the save worker after a successful save."""

    def __init__(self) -> None:
        super().__init__()
        # one draft id per form; the lock orders a late draft save against the delete after a save
        self.draft_id = uuid7()
        self._draft_timer: Timer | None = None
        self._draft_lock = threading.Lock()
        self._draft_closed = False
        self._draft_saved = False  # this form's draft is in the database (a pause in typing saved it)
        self._defaults: dict[str, Any] = {}
        self._asking = False
        self._filling = False
        self.saving = False
        #: the lookup of a kept draft is on its way: the keys typed meanwhile wait for its question
        #: (:meth:`draft_holds_keys`), which then passes them on to the form (``RestoreDialog``)
        self.draft_pending = False

    def collect(self) -> dict[str, Any]:
        raise NotImplementedError

    def fill(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def start_drafts(self) -> None:
        """The empty form is ready: remember its defaults and look for a draft to offer."""
        self._defaults = self.collect()
        self.draft_pending = True
        self.find_draft(self.station.db_path)

    def stop_draft_timer(self) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()

    def close_draft(self, db_path: Path) -> None:
        """The request is saved (in the save worker's thread): delete the draft, and no late draft
        save brings it back."""
        from qi_station.services.drafts import delete_draft

        with self._draft_lock:
            self._draft_closed = True
            try:
                delete_draft(db_path, self.draft_id)
            except Exception:  # noqa: BLE001 - the request is saved; a stale draft is only offered again
                pass

    # ---- drafts: kept as the operator types, offered back, asked about before leaving --------------
    def touch(self) -> None:
        """Something was typed: save the draft when the typing pauses."""
        if self._filling or self._draft_closed or not self._defaults:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DEBOUNCE, self._save_draft_now)

    def _save_draft_now(self) -> None:
        from qi_station.services.drafts import has_input

        data = self.collect()
        if has_input(data, self._defaults):
            self.keep_draft(self.station.db_path, data)
        elif self._draft_saved:  # typed, then cleared: the empty form's draft is no draft
            self.keep_draft(self.station.db_path, None)

    @work(thread=True, exclusive=True, group="draft")
    def keep_draft(self, db_path: Path, data: dict[str, Any] | None) -> None:
        """Save this form's draft (``data``), or delete it (None: the form was cleared)."""
        from qi_station.services.drafts import delete_draft, save_draft

        operator = getattr(self.app, "operator", None) or ""  # who is working (the app's choice)
        with self._draft_lock:
            if self._draft_closed:
                return
            try:
                if data is None:
                    delete_draft(db_path, self.draft_id)
                else:
                    save_draft(db_path, self.draft_id, data, operator)
            except Exception:  # noqa: BLE001 - a draft is a safety net; the form itself is not affected
                return
            self._draft_saved = data is not None

    @work(thread=True, exclusive=True, group="find-draft")
    def find_draft(self, db_path: Path) -> None:
        from qi_station.services.drafts import latest_draft

        try:
            draft = latest_draft(db_path)
        except Exception:  # noqa: BLE001 - no draft to offer
            draft = None
        self.post_message(DraftFound(draft))  # also none: the keys held meanwhile go on

    @on(DraftFound)
    def _offer_draft(self, event: DraftFound) -> None:
        """Ask about the newest kept draft (the older ones in their turn, each its own). A form typed in
        already (the keys before the lookup answered) is never filled over: the draft stays for the next
        time, and a toast says so."""
        from qi_station.core.clock import iso_local
        from qi_station.services.drafts import has_input

        self.draft_pending = False
        d = event.draft
        if d is None:
            return
        if has_input(self.collect(), self._defaults):
            self.notify(t("form.draft_later"))
            return
        data = d["data"]
        summary = "  ".join(x for x in (data.get("enterprise"), data.get("title")) if x)
        when = str(iso_local(d["updated_at"]) or "")[:16].replace("T", " ")

        question = restore_dialog(when, summary, int(d.get("count") or 1))

        def answer(choice: str | None) -> None:
            if choice == "restore":
                self.restore(d["id"], data)
            elif choice == "discard":
                self._in_thread(lambda: _delete_draft(self.station.db_path, d["id"]))
            if question.typed:  # typed while the question was up: into the focused field, never lost
                self.type_in(question.typed)

        self.app.push_screen(question, answer)

    def type_in(self, text: str) -> None:
        """``text`` at the cursor of the focused text field (what was typed on the restore question)."""
        from textual.widgets import Input, TextArea

        field = self.focused
        if isinstance(field, Input):
            field.insert_text_at_cursor(text)
        elif isinstance(field, TextArea):
            field.insert(text)

    def restore(self, draft_id: str, data: dict[str, Any]) -> None:
        """Fill the form from a draft; later typing updates that same draft."""
        self.draft_id = draft_id
        self._draft_saved = True  # the restored draft is in the database under this id
        self._filling = True
        try:
            self.fill(data)
        finally:
            self._filling = False
        self.notify(t("form.draft_restored"))

    def _in_thread(self, job: Callable[[], None], then: Callable[[], Any] | None = None) -> None:
        """Run ``job`` in an app-level thread worker (it outlives this screen), then ``then`` on the UI
        thread."""

        def run() -> None:
            try:
                job()
            finally:
                if then is not None:
                    self.app.call_from_thread(then)

        self.app.run_worker(run, thread=True, group="form-draft")

    def ask_before_leaving(self, go: Callable[[], Any]) -> bool:
        """Called before the form is left (Esc, an F-key, Ctrl+Q). An unsaved form asks 保存草稿 / 放弃 /
        继续编辑 and returns True (``go`` runs after the answer); nothing typed: False (leave at once)."""
        from qi_station.services.drafts import has_input

        if self._asking:
            return True
        if self.saving or self._draft_closed:
            return False
        if not has_input(self.collect(), self._defaults):
            if not self._draft_saved:
                return False
            # typed, saved as a draft, then cleared: leave without a question, and without the draft
            # (it was offered at every F4 after: junk drafts piled up in front of the real one)
            self._draft_closed = True
            self.stop_draft_timer()
            db = self.station.db_path
            self._in_thread(lambda: _delete_draft(db, self.draft_id), go)
            return True
        self._asking = True
        self.stop_draft_timer()
        data, db = self.collect(), self.station.db_path

        def answer(choice: str | None) -> None:
            self._asking = False
            if choice == "keep":
                self._draft_closed = True
                who = getattr(self.app, "operator", None) or ""
                self._in_thread(lambda: _save_draft(db, self.draft_id, data, who), go)
            elif choice == "discard":
                self._draft_closed = True
                self._in_thread(lambda: _delete_draft(db, self.draft_id), go)

        self.app.push_screen(leave_dialog(), answer)
        return True


def _save_draft(db: Path, draft_id: str, data: dict[str, Any], operator: str) -> None:
    from qi_station.services.drafts import save_draft

    save_draft(db, draft_id, data, operator)


def _delete_draft(db: Path, draft_id: str) -> None:
    from qi_station.services.drafts import delete_draft

    delete_draft(db, draft_id)
