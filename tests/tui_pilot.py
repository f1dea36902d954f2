"""The setup the TUI pilot tests share (80x24, Chinese UI): a request's id by its number, keys sent as a
burst, waiting for what the screen shows, the notifications' texts, what the operator sees. The station's
environment is the ``tui_env`` fixture (``conftest.py``); the database and the app come from
``test_tui_helpers`` / ``test_tui_journeys``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_tui_journeys import rows, settle


def req_id(db: Path, number: str) -> str:
    """The id of the request numbered ``number``."""
    return str(rows(db, "SELECT id FROM request WHERE number = ?", number)[0][0])


def burst(app: Any, *keys: str) -> None:
    """Keys as tmux send-keys delivers them: queued at once, no pause for the app between them."""
    from textual import events

    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def until(pilot: Any, done: Callable[[], Any]) -> None:
    """Wait for what the screen shows to change (a debounced search, a worker's answer), not for a fixed
    time: the caller asserts ``done()`` afterwards."""
    for _ in range(200):
        await settle(pilot)
        if done():
            return
        await pilot.pause(0.02)


def notes(app: Any) -> list[str]:
    """The texts of the notifications (toasts) the app holds."""
    return [str(n.message) for n in app._notifications]  # no public list: tests only


def toasts(app: Any) -> list[Any]:
    """The toasts drawn on the current screen (their regions are what covers the page)."""
    from textual.widgets._toast import Toast  # Textual exports no Toast class: tests only

    return list(app.screen.query(Toast))


def footer_text(app: Any, action: str) -> str | None:
    """The footer's text of the key bound to ``action`` on the current screen."""
    for ab in app.active_bindings.values():
        if ab.binding.show and ab.enabled and ab.binding.action == action:
            return str(ab.binding.description)
    return None


#: the fixture's in-progress request (standards + certification): many moves, 转办 allowed
IN_PROGRESS = "QI0001-202603-0002"


async def open_detail(pilot: Any, db: Path, number: str = IN_PROGRESS) -> Any:
    """The app settled, then the detail of request ``number`` opened; returns the detail screen."""
    await settle(pilot)
    pilot.app.open_request(req_id(db, number))
    await settle(pilot)
    return pilot.app.screen


async def press_to(pilot: Any, key: str, kind: type) -> Any:
    """Press ``key``; the screen then shown is a ``kind`` (asserted) and is returned."""
    await pilot.press(key)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, kind), screen
    return screen


async def ask_to_leave(pilot: Any, key: str, title: str) -> Any:
    """``key`` (an F-key, Ctrl+Q) with input typed: the 放弃 / 继续编辑 question is shown, its title holds
    ``title`` (e.g. 流转尚未保存); returns the question."""
    from qi_station.screens.form_dialogs import ChoicesDialog

    asked = await press_to(pilot, key, ChoicesDialog)
    assert title in str(asked.query_one(".dialog-title").render())
    return asked


async def backup_dialog(pilot: Any, out: str) -> Any:
    """The app settled, 备份数据库 opened (asserted), ``out`` put in 备份到; returns the dialog."""
    from qi_station.screens.backup import BackupDialog

    await settle(pilot)
    pilot.app.action_backup()
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, BackupDialog), dialog
    dialog.query_one("#out").value = out
    return dialog
