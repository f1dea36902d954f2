"""Request form (需求登记): enterprise lookup as you type (name, USCC, pinyin initials) with inline
creation, USCC checked live with its region (a known USCC names its enterprise; a similar name under
another USCC is pointed out), elements multi-select, channel, urgency, promised date defaulted from
the station's promise for the urgency in working days, a multi-line description.  Ctrl+S saves in a thread worker; every bad field is shown beside
it at once, the first one focused, and the typed input stays.  A known USCC typed with another name
asks whether the enterprise was renamed.

What is typed is kept as a draft in the database while the operator types (debounced, in a thread
worker: :mod:`qi_station.services.drafts`), offered back when the form opens next; leaving an unsaved
form (Esc, an F-key, Ctrl+Q) asks first (:mod:`qi_station.screens.form_dialogs`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from qi_station.core import domain
from qi_station.core.errors import ValidationError, every_error
from qi_station.i18n import channel_name, city_name, element_short, err_text, t, urgency_name
from qi_station.screens.base import error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.footer import StationFooter
from qi_station.screens.form_dialogs import rename_dialog
from qi_station.screens.form_drafts import DraftedForm
from qi_station.screens.form_errors import FIELD_SLOT, FormErrors
from qi_station.screens.widgets import Chip, Choice

LOOKUP_DEBOUNCE = 0.15


class EnterprisesFound(Message):
    def __init__(self, rows: list[dict[str, Any]], q: str = "") -> None:
        super().__init__()
        self.rows, self.q = rows, q


class RequestSaved(Message):
    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row


class PromiseLoaded(Message):
    """This station's holiday calendar and promise (working days by urgency), read in a worker."""

    def __init__(self, context: tuple[Any, dict[str, int]]) -> None:
        super().__init__()
        self.context = context


class SaveFailed(Message):
    def __init__(self, error: Exception, known: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.error = error
        self.known = known  # the enterprise already holding the USCC (a rename to confirm)


class NamesChecked(Message):
    """The enterprise holding the typed USCC (or None) and similar names under other USCCs."""

    def __init__(self, uscc: str, known: dict[str, Any] | None, similar: list[dict[str, Any]]) -> None:
        super().__init__()
        self.uscc, self.known, self.similar = uscc, known, similar


class NameInput(Input):
    """The enterprise name box: Down goes into the suggestions showing under it. Its own binding: the
    app runs a key the focused field binds in the field's order, and the first binding in the focus
    chain wins, so a screen handler never saw Down once the suggestions made the form scrollable (the
    form scrolled instead and the name left the screen, 80x24 with six matches)."""

    BINDINGS = [Binding("down", "suggestions", show=False)]

    def _list(self) -> OptionList | None:
        found = self.screen.query("#ent-list")
        return found.first(OptionList) if found else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "suggestions":  # no list showing: Down goes on as before
            ol = self._list()
            return ol is not None and not ol.has_class("hidden") and ol.option_count > 0
        return super().check_action(action, parameters)

    def action_suggestions(self) -> None:
        ol = self._list()
        if ol is not None:
            ol.focus()


class RequestFormScreen(FormErrors, DraftedForm):
    CSS_PATH = "request_form.tcss"
    BINDINGS = bindings("form")
    SCREEN_KEY = "new_request"

    def __init__(self) -> None:
        super().__init__()
        self._lookup_timer: Timer | None = None
        self._promised_auto = ""
        self._promise: tuple[Any, dict[str, int]] | None = None  # (Calendar, promises) once loaded
        self._enterprises: list[dict[str, Any]] = []
        self._submitted: dict[str, Any] = {}
        self._names_timer: Timer | None = None
        self._known: dict[str, Any] | None = None  # the enterprise holding the typed USCC
        self._renamed = False  # the operator confirmed the rename of the known enterprise
        self.focused_ready = asyncio.Event()  # set once the name field has the focus (see app.new_request)

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="titlebar", markup=False)
        with VerticalScroll(id="form", can_focus=False):  # no hidden Tab stop after 电话
            with Horizontal(classes="frow"):
                yield Label(t("field.enterprise"))
                yield NameInput(
                    id="enterprise", select_on_focus=False, placeholder=t("ph.enterprise"), compact=True
                )
            yield OptionList(id="ent-list", classes="hidden")
            yield Static("", id="err-enterprise", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.uscc"))
                yield Input(
                    id="uscc", select_on_focus=False, placeholder=t("ph.uscc"), compact=True, max_length=40
                )
                yield Static("", id="uscc-region", markup=False)
            yield Static("", id="err-uscc", classes="field-error hidden", markup=False)
            yield Static("", id="ent-hint", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow frow-auto"):
                yield Label(t("field.elements"))
                with Grid(id="elements"):
                    for e in domain.ELEMENTS:
                        yield Chip(element_short(e), e, id=f"el-{e}")
            yield Static("", id="err-elements", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.title"))
                yield Input(id="title", select_on_focus=False, placeholder=t("ph.title"), compact=True)
            yield Static("", id="err-title", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow frow-text"):
                yield Label(t("field.description"))
                yield TextArea(id="description", compact=True, soft_wrap=True, tab_behavior="focus")
            yield Static("", id="err-description", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.channel"))
                yield Choice(
                    [(c, channel_name(c)) for c in domain.CHANNELS], "walk_in", menu=True, id="channel"
                )
                yield Label(t("field.urgency"), classes="second")
                yield Choice(
                    [(u, urgency_name(u)) for u in domain.URGENCIES], "normal", menu=True, id="urgency"
                )
            yield Static("", id="err-channel", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.received_at"))
                # a date/time field selects its value on focus: what is typed replaces it
                yield Input(id="received_at", compact=True, classes="half")
                yield Label(t("field.promised"), classes="second")
                yield Input(
                    id="promised",
                    compact=True,
                    classes="half",
                    placeholder=t("ph.promised"),
                )
            yield Static("", id="err-received_at", classes="field-error hidden", markup=False)
            with Horizontal(classes="frow"):
                yield Label(t("field.contact"))
                yield Input(id="contact", select_on_focus=False, compact=True, classes="half")
                yield Label(t("field.phone"), classes="second")
                yield Input(id="phone", select_on_focus=False, compact=True, classes="half")
            yield Static("", id="err-contact", classes="field-error hidden", markup=False)
        yield Static(t("form.hint"), id="form-error", classes="muted", markup=False)  # always in view
        yield StationFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        from qi_station.core.clock import env_now, local

        # focused now (not by a later callback): the keys typed right after F4 go to the name field
        self.set_focus(self.query_one("#enterprise", Input))
        self.focused_ready.set()
        now = local(env_now())
        self.query_one("#received_at", Input).value = now.strftime("%Y-%m-%d %H:%M")
        self.load_promise(self.station.db_path)
        self.start_drafts()

    @work(thread=True, exclusive=True, group="promise")
    def load_promise(self, db_path: Path) -> None:
        from qi_station.services.workdays import promise_context

        try:
            self.post_message(PromiseLoaded(promise_context(db_path)))
        except Exception:  # noqa: BLE001 - no default shown; the save still counts the promise itself
            return

    @on(PromiseLoaded)
    def _promise_loaded(self, event: PromiseLoaded) -> None:
        self._promise = event.context
        self._set_promised_default()

    # ---- defaults & live checks ---------------------------------------------------------------
    def _received_date(self) -> Any:
        from qi_station.core.clock import local, parse_datetime

        try:
            return local(parse_datetime(self.query_one("#received_at", Input).value)).date()
        except Exception:  # noqa: BLE001 - the save reports a bad time
            return None

    def _set_promised_default(self) -> None:
        """The promised date the save will count (``core.workdays.promise_date``: the station's promise
        in working days after the day of receipt), shown until the operator types another."""
        from qi_station.core.workdays import promise_date

        d = self._received_date()
        if d is None or self._promise is None:
            return
        cal, promises = self._promise
        urgency = self.query_one("#urgency", Choice).value or "normal"
        value = promise_date(cal, d, promises[urgency]).date.isoformat()
        promised = self.query_one("#promised", Input)
        if not promised.value or promised.value == self._promised_auto:
            self._promised_auto = value
            promised.value = value

    def on_choice_changed(self, event: Choice.Changed) -> None:
        if event.choice.id == "urgency":
            self._set_promised_default()
        self.field_edited(event.choice.id or "")
        self.touch()

    def on_chip_toggled(self) -> None:
        self.field_edited("elements")
        self.touch()

    def key_hint(self) -> str:
        """In the 服务要素 block: its keys (arrows, Space, Tab; typing goes on into 需求事项)."""
        focused = self.focused
        if isinstance(focused, Chip) and focused.parent is not None and focused.parent.id == "elements":
            return t("form.hint_elements")
        return t("form.hint")

    def on_descendant_focus(self) -> None:
        if not self._errors:  # the summary line names the errors while any stands
            self._summarize()

    def on_chip_hint(self) -> None:
        """Enter in the 服务要素 block: it neither toggles nor leaves; the line says the block's keys."""
        status = self.query_one("#form-error", Static)
        status.update(t("form.hint_elements"))
        status.set_classes("warning")

    def on_text_area_changed(self) -> None:
        self.field_edited("description")
        self.touch()

    def on_input_changed(self, event: Input.Changed) -> None:
        wid = event.input.id
        if wid in FIELD_SLOT and self._submitted.get(wid) != event.value:
            self.field_edited(wid)  # an edit clears its message (not a late event for the submitted value)
        if wid == "uscc":
            self._check_uscc(event.value)
            self._check_names_soon()
        elif wid == "received_at":
            self._set_promised_default()
        elif wid == "enterprise" and not self._filling:
            self._renamed = False
            if self._lookup_timer is not None:
                self._lookup_timer.stop()
            q = event.value.strip()
            self._looking_up = q or None
            if q:
                self._lookup_timer = self.set_timer(
                    LOOKUP_DEBOUNCE, lambda: self.lookup(self.station.reader, q)
                )
            else:
                self.query_one("#ent-list").add_class("hidden")
                err = self.query_one("#err-enterprise", Static)
                if err.has_class("muted"):  # 库中无此企业 is about a name no longer typed
                    err.update("")
                    err.set_classes("field-error hidden")
            self._check_names_soon()
        self.touch()

    @on(Input.Blurred, "#uscc")
    def _uscc_left(self, event: Input.Blurred) -> None:
        """Leaving the box, a USCC typed full-width (a Chinese input method's ９１３７…ＭＡ) is shown as the
        save reads it (``normalize_uscc``): half-width, trimmed, upper case, all of it in the box."""
        from qi_station.core.validate import normalize_uscc

        shown = normalize_uscc(event.value)
        if shown != event.value:
            event.input.value = shown
            event.input.cursor_position = len(shown)

    def _check_uscc(self, value: str) -> None:
        from qi_station.core.errors import ValidationError
        from qi_station.core.validate import uscc_region, uscc_warnings, validate_uscc

        label = self.query_one("#uscc-region", Static)
        v = value.strip().upper()
        if not v:
            label.update("")
            return
        if len(v) < 18:
            label.update(t("form.uscc_count", n=len(v)))
            label.set_classes("muted")
            self._set_error("uscc", "")
            return
        try:
            code = validate_uscc(v)
        except ValidationError as e:
            label.update(t("form.uscc_bad"))
            label.set_classes("error")
            self._set_error("uscc", err_text(e))
            return
        region = uscc_region(code)
        warnings = uscc_warnings(code)  # never refused: saved all the same
        if warnings:
            what = "; ".join(t(f"form.{rule}", code=code[:2], region=region) for rule, _msg in warnings)
            label.update(t("form.uscc_check", what=what))
            label.set_classes("warning")
        else:
            label.update(t("form.uscc_ok", region=city_name(region) or region))
            label.set_classes("ok")
        self._set_error("uscc", "")

    # ---- the enterprise: suggestions, the known USCC, similar names ------------------------------
    @work(thread=True, exclusive=True, group="lookup")
    def lookup(self, reader: Any, q: str) -> None:
        from qi_station.services.search import search

        try:
            with reader as conn:
                rows = search(conn, "enterprises", q, limit=6)
        except Exception:  # noqa: BLE001 - a bad query just shows no suggestions
            rows = []
        self.post_message(EnterprisesFound(rows, q))

    def _check_names_soon(self) -> None:
        if self._names_timer is not None:
            self._names_timer.stop()
        name = self.query_one("#enterprise", Input).value.strip()
        uscc = self.query_one("#uscc", Input).value.strip().upper()
        self._names_timer = self.set_timer(
            LOOKUP_DEBOUNCE, lambda: self.check_names(self.station.reader, name, uscc)
        )

    @work(thread=True, exclusive=True, group="names")
    def check_names(self, reader: Any, name: str, uscc: str) -> None:
        from qi_station.services import enterprises

        try:
            with reader as conn:
                known = enterprises.by_uscc(conn, uscc) if len(uscc) == 18 else None
                similar = enterprises.similar(conn, name, uscc) if name else []
        except Exception:  # noqa: BLE001 - a hint only: the save checks again
            known, similar = None, []
        self.post_message(NamesChecked(uscc, known, similar))

    @on(NamesChecked)
    def _names_checked(self, event: NamesChecked) -> None:
        if event.uscc != self.query_one("#uscc", Input).value.strip().upper():
            return  # a late answer for a USCC no longer typed
        was = (self._known or {}).get("id")
        self._known = event.known
        self._similar = event.similar
        if event.known and event.known["id"] != was:  # a known USCC typed: its contact, as a pick fills it
            self._fill_contact(event.known)
        self._show_hint()
        err = self.query_one("#err-enterprise", Static)
        if event.known and err.has_class("muted"):  # never "not in the library" for a known USCC
            err.update("")
            err.set_classes("field-error hidden")

    _similar: list[dict[str, Any]] = []  # the last similar names found (``_show_hint``)

    def _show_hint(self) -> None:
        """The known USCC's other name and the similar names, never about the enterprise picked or being
        picked (the typed USCC's, the known one, one offered in the open suggestion list)."""
        from qi_station.core.validate import name_key

        name = self.query_one("#enterprise", Input).value
        uscc = self.query_one("#uscc", Input).value.strip().upper()
        known = self._known
        picked = {known["id"]} if known else set()
        if not uscc and self._looking_up is not None:  # its suggestions are on their way: wait for them
            picked |= {r["id"] for r in self._similar}
        elif not uscc and not self.query_one("#ent-list").has_class("hidden"):  # still choosing from it
            picked |= {r["id"] for r in self._enterprises}
        lines = []
        if known and name_key(known["name"]) != name_key(name):
            lines.append(t("form.known_uscc", name=known["name"]))
        lines += [
            t("form.similar", name=r["name"], uscc=r["uscc"])
            for r in self._similar
            if r["id"] not in picked and r["uscc"] != uscc
        ]
        hint = self.query_one("#ent-hint", Static)
        hint.update("\n".join(lines))
        hint.set_classes("field-error warning" if lines else "field-error hidden")

    def _fill_contact(self, r: dict[str, Any]) -> None:
        """The enterprise's contact and phone into the boxes left empty."""
        if r.get("contact_name") and not self.query_one("#contact", Input).value:
            self.query_one("#contact", Input).value = r["contact_name"]
        if r.get("phone_display") and not self.query_one("#phone", Input).value:
            self.query_one("#phone", Input).value = r["phone_display"]

    @on(EnterprisesFound)
    def _enterprises_found(self, event: EnterprisesFound) -> None:
        self._show_enterprises(event)
        self._show_hint()  # the similar names, now that the list is (or is not) offered

    def _show_enterprises(self, event: EnterprisesFound) -> None:
        if event.q == self._looking_up:
            self._looking_up = None
        if not self.query_one("#enterprise", Input).value.strip():
            return  # a late answer: the name was cleared meanwhile
        rows = self._enterprises = event.rows
        ol = self.query_one("#ent-list", OptionList)
        ol.clear_options()
        if not rows:
            ol.add_class("hidden")
            if self._known is None:
                self.query_one("#err-enterprise", Static).update(t("form.new_enterprise"))
                self.query_one("#err-enterprise").set_classes("field-error muted")
            return
        self._set_error("enterprise", "")
        if self.focused is not self.query_one("#enterprise", Input):
            ol.add_class("hidden")  # the operator moved on: no list in the way of the next keys
            return
        for r in rows:
            ol.add_option(Option(f"{r['name']}  {r['uscc']}  {r.get('city_name') or ''}", id=r["id"]))
        ol.highlighted = 0
        ol.remove_class("hidden")

    _looking_up: str | None = None  # the name whose suggestions are on their way (holds_keys)

    def holds_keys(self, key: str) -> bool:
        """Down typed in the name box before the suggestions for the name typed are shown waits for them
        (the app holds it and the keys after it: ``StationApp._hold_for_focus``): a fast name, Down,
        Enter picks the first suggestion instead of losing Down and Enter. Every key waits while the
        lookup of a kept draft is on its way (its question takes them on to the form)."""
        if self.draft_pending:  # the kept draft's question may come: the keys wait for it
            return True
        return (
            key == "down"
            and self._looking_up is not None
            and self.focused is self.query_one("#enterprise", Input)
        )

    def on_key(self, event: Any) -> None:
        enterprise = self.query_one("#enterprise", Input)
        ol = self.query_one("#ent-list", OptionList)
        if self.focused is not enterprise or ol.has_class("hidden"):
            return
        if event.key == "tab":  # Tab goes on to the USCC (a scanner's burst), never into the list
            ol.add_class("hidden")
            self.query_one("#uscc", Input).focus()
            event.stop()
            event.prevent_default()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        idx = event.option_index
        if 0 <= idx < len(self._enterprises):
            r = self._enterprises[idx]
            name = self.query_one("#enterprise", Input)
            self._filling = True
            name.value = r["name"]
            self._filling = False
            name.cursor_position = len(name.value)  # back in the box (Shift+Tab), typing goes on at the end
            self.query_one("#uscc", Input).value = r["uscc"]
            self._fill_contact(r)
        self.query_one("#ent-list").add_class("hidden")
        self._show_hint()  # the picked one: its USCC is typed now
        self.query_one("#el-standards", Chip).focus()

    def action_open_enterprise(self) -> None:
        """F8: the page of the enterprise holding the typed USCC (a new one has no page yet)."""
        if self._known is None:
            self.notify(t("form.no_enterprise"), severity="warning")
            return
        from qi_station.screens.enterprise import EnterpriseScreen

        self.app.push_screen(EnterpriseScreen(self._known["id"]))

    # ---- save ------------------------------------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        val = lambda wid: self.query_one(f"#{wid}", Input).value  # noqa: E731
        description = self.query_one("#description", TextArea).text
        return {
            "enterprise": val("enterprise"),
            "uscc": val("uscc"),
            "elements": [c.value for c in self.query(Chip) if c.checked],
            "title": val("title"),
            # whitespace only (a stray Enter) is no description: an empty form stays empty
            "description": description if description.strip() else None,
            "channel": self.query_one("#channel", Choice).value,
            "urgency": self.query_one("#urgency", Choice).value,
            "received_at": val("received_at"),
            # the shown default is left to the save (the same rule, and its warning when the calendar
            # does not cover the date); a date the operator typed wins
            "promised": None if val("promised") == self._promised_auto else val("promised"),
            "contact": val("contact") or None,
            "phone": val("phone") or None,
        }

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        self.stop_draft_timer()
        self._clear_errors()
        status = self.query_one("#form-error", Static)
        status.update(t("msg.saving"))
        status.set_classes("muted")
        self._submitted = self.collect()
        self.save(self.station.db_path, {**self._submitted, "renamed": self._renamed})

    @work(thread=True, exclusive=True, group="save")
    def save(self, db_path: Path, data: dict[str, Any]) -> None:
        from qi_station.services import enterprises
        from qi_station.services.ledger import RequestInput, create_request

        try:
            row = create_request(db_path, RequestInput(**data, operator=self.station.operator))
        except Exception as e:  # noqa: BLE001 - shown beside the field; the form keeps its input
            known = None
            if isinstance(e, ValidationError) and e.rule == "renamed":
                known = enterprises.by_uscc(db_path, data["uscc"])
            self.post_message(SaveFailed(e, known))
            return
        self.close_draft(db_path)
        self.post_message(RequestSaved(row))

    @on(SaveFailed)
    def _failed(self, event: SaveFailed) -> None:
        e = event.error
        self.saving = False
        status = self.query_one("#form-error", Static)
        if isinstance(e, ValidationError) and e.rule == "renamed" and event.known:
            status.update("")
            self._ask_rename(event.known)
            return
        if isinstance(e, ValidationError):
            self._show_errors(every_error(e))
            return
        status.update(error_message(e))
        status.set_classes("error")

    def _ask_rename(self, known: dict[str, Any]) -> None:
        typed = self.query_one("#enterprise", Input).value.strip()

        def answer(choice: str | None) -> None:
            if choice == "renamed":
                self._renamed = True
                self.action_save()
            elif choice == "known":
                self._filling = True
                self.query_one("#enterprise", Input).value = known["name"]
                self._filling = False
                self.action_save()
            else:
                self.query_one("#enterprise", Input).focus()

        self.app.push_screen(rename_dialog(known["uscc"], known["name"], typed), answer)

    @on(RequestSaved)
    def _saved(self, event: RequestSaved) -> None:
        row = event.row
        self.saving = False
        self.notify(t("msg.request_saved", number=row["number"]))
        for warning in row.get("warnings") or ():
            self.notify(warning, severity="warning", timeout=10)
        self.dismiss(None)
        self.station.open_request(row["id"])

    def fill(self, data: dict[str, Any]) -> None:
        """Put a draft's fields back into the form."""
        for wid in ("enterprise", "uscc", "title", "received_at", "promised", "contact", "phone"):
            self.query_one(f"#{wid}", Input).value = str(data.get(wid) or "")
        self.query_one("#description", TextArea).load_text(str(data.get("description") or ""))
        for chip in self.query(Chip):
            chip.set_quietly(chip.value in (data.get("elements") or []))
        self.query_one("#channel", Choice).value = data.get("channel") or "walk_in"
        self.query_one("#urgency", Choice).value = data.get("urgency") or "normal"
        self.query_one("#ent-list").add_class("hidden")
        self._set_promised_default()  # a draft keeps no counted date: the one the save will count

    def action_cancel(self) -> None:
        ol = self.query_one("#ent-list", OptionList)
        if not ol.has_class("hidden"):  # the first Esc closes the suggestions, back in the name box
            ol.add_class("hidden")
            self.query_one("#enterprise", Input).focus()
            return
        if not self.ask_before_leaving(lambda: self.dismiss(None)):
            self.dismiss(None)
