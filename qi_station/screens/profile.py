"""The station profile (region, park, type, service mode): read and saved through
:mod:`qi_station.services.station` in thread workers; the hub receives it at the next sync or bundle.
Opened from the command palette or with its key (``app.profile``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label, Static

from qi_station.core import domain, places
from qi_station.i18n import err_text, get_lang, t
from qi_station.screens.base import error_message
from qi_station.screens.dialogs import WorkerDialog
from qi_station.screens.widgets import Choice

#: ValidationError.field -> the label of the field on this screen
LABELS = {
    "region": "profile.region",
    "park": "profile.park",
    "station_type": "profile.type",
    "service_mode": "profile.mode",
}


def place_text(code: str, *, complete: bool = True) -> str:
    """The live name under the region field: the place the code names today, or why it is not one.
    While the code is still being typed (``complete=False``, fewer than its 6 digits) there is no
    verdict yet: "3701" on the way to "370102" is no error."""
    c = code.strip()
    if not c or (not complete and len(c) < 6):
        return ""
    if c in places.HISTORIC:
        name, now = places.HISTORIC[c]
        return t("profile.historic", old=name, code=now, name=places.full_name(now))
    if c in places.CITIES or c in places.COUNTY_NAMES:
        return places.full_name(c)
    return t("profile.unknown_place")


class ProfileScreen(WorkerDialog):
    class Loaded(Message):
        def __init__(self, profile: dict[str, Any] | None, error: str | None = None) -> None:
            super().__init__()
            self.profile, self.error = profile, error

    def dialog_title(self) -> str:
        return t("profile.title")

    def compose_fields(self) -> ComposeResult:
        lang = get_lang()
        with Horizontal(classes="row"):
            yield Label(t("profile.region"))
            yield Input(id="region", compact=True, max_length=6, placeholder="370116")
        yield Static("", id="place", classes="muted", markup=False)
        with Horizontal(classes="row"):
            yield Label(t("profile.park"))
            yield Input(id="park", compact=True, max_length=domain.PARK_MAX)
        with Horizontal(classes="row"):
            yield Label(t("profile.type"))
            yield Choice(
                [(v, domain.station_type_label(v, lang)) for v in domain.STATION_TYPES], id="station_type"
            )
        with Horizontal(classes="row"):
            yield Label(t("profile.mode"))
            yield Choice(
                [(v, domain.service_mode_label(v, lang)) for v in domain.SERVICE_MODES], id="service_mode"
            )
        yield Static(t("profile.hint"), classes="muted", markup=False)

    def on_mount(self) -> None:
        self.query_one("#region", Input).focus()
        self.load(self.station.db_path)

    @work(thread=True, exclusive=True, group="profile")
    def load(self, db_path: Path) -> None:
        from qi_station.services.station import profile

        try:
            got = profile(db_path)
        except Exception as e:  # noqa: BLE001 - shown in the dialog
            self.post_message(self.Loaded(None, error_message(e)))
            return
        self.post_message(self.Loaded(got))

    def on_profile_screen_loaded(self, msg: Loaded) -> None:
        if msg.profile is None:
            self.query_one("#error", Static).update(msg.error or t("profile.no_station"))
            return
        p = msg.profile
        region = self.query_one("#region", Input)
        region.value = p.get("region_code") or ""
        if region.has_focus:  # the stored code selected, as a focused field is: typing replaces it
            region.select_all()
        self.query_one("#park", Input).value = p.get("park") or ""
        self.query_one("#station_type", Choice).value = p.get("station_type")
        self.query_one("#service_mode", Choice).value = p.get("service_mode")
        self.remember_opened()  # the stored profile is not "typed": only a change asks before leaving

    @on(Input.Changed, "#region")
    def _region_changed(self, event: Input.Changed) -> None:
        region = self.query_one("#region", Input)
        self.query_one("#place", Static).update(place_text(event.value, complete=not region.has_focus))

    @on(Input.Blurred, "#region")
    def _region_left(self, event: Input.Blurred) -> None:
        """Leaving the field: a partial code now reads as the error it is."""
        self.query_one("#place", Static).update(place_text(event.value))

    def on_input_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        db = self.station.db_path
        kw = {
            "region": self.query_one("#region", Input).value,
            "park": self.query_one("#park", Input).value,
            "type_": self.query_one("#station_type", Choice).value,
            "mode": self.query_one("#service_mode", Choice).value,
        }

        def job() -> Any:
            from qi_station.services.station import set_profile

            return set_profile(db, **kw)

        self.write(job)

    def validation_text(self, e: Any) -> str:
        label = t(LABELS[e.field]) if e.field in LABELS else e.field
        return f"{label}: {err_text(e)}"
