"""Modal dialogs: confirm, one-line input, a lifecycle move (outcome / satisfaction / note), a note, refer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from weakref import WeakKeyDictionary, ref

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from qi_station.core import domain
from qi_station.i18n import err_text, field_label, get_lang, kind_name, satisfaction_name, status_name, t
from qi_station.screens.base import StationModal, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.cells import clip
from qi_station.screens.widgets import Choice

DIALOG_CSS = ""  # the shared dialog styles live in app.tcss (StationModal)


class Saved(Message):
    """A dialog's worker wrote its change: the row (or event) the core returned; the dialog closes with it."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


class Failed(Message):
    """A dialog's worker failed: the dialog stays open and shows why."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class SuggestionsLoaded(Message):
    def __init__(self, items: list[dict[str, Any]], kind: str | None = None) -> None:
        super().__init__()
        self.items, self.kind = items, kind


class LeaveAsks:
    """THE question before typed input is dropped (an F-key, Ctrl+Q: ``StationApp.leave_then``):
    放弃 / 继续编辑 (继续编辑 the default) when a field differs from what it held when opened. Every
    dialog with fields (:class:`OkCancelModal`) and the 走访培训活动 form (``activity.ActivityScreen``)
    ask by it; the screen calls :meth:`remember_opened` when mounted and after a save.

    It keeps the registry of the pages that may hold unsaved input (:meth:`open_pages`): each page is in
    it from its mount to its unmount, whichever mode's stack it lies on, so Ctrl+Q asks a kept page of
    another mode too (Textual's own stacks of the modes are private)."""

    #: each app's mounted pages that ask, in the order they were mounted (weak both ways: a page refers to
    #: its app, so a strong list would keep a finished app alive)
    _open: ClassVar[WeakKeyDictionary[Any, list[ref[LeaveAsks]]]] = WeakKeyDictionary()

    #: the catalogue prefix of the question (``form_dialogs.leave_dialog(LEAVE_ASKS)``); None: never asks
    LEAVE_ASKS: str | None = "dialog"
    #: True on a main screen: a screen switch keeps it (and its fields), only quitting drops them
    KEPT_ON_SWITCH = False
    app: Any  # the host screen's
    query: Any

    # Textual calls the handler each class of the MRO defines itself: a host's on_mount runs too
    def on_mount(self) -> None:
        pages = LeaveAsks._open.setdefault(self.app, [])
        if ref(self) not in pages:  # once, whether a host's on_mount calls super() or not
            pages.append(ref(self))

    def on_unmount(self) -> None:
        pages = LeaveAsks._open.get(self.app, [])
        if ref(self) in pages:
            pages.remove(ref(self))

    @staticmethod
    def open_pages(app: Any) -> list[LeaveAsks]:
        """The pages of ``app`` mounted now that ask before their input is dropped (any mode's stack)."""
        return [page for r in LeaveAsks._open.get(app, ()) if (page := r()) is not None]

    def _field_values(self) -> dict[str, Any]:
        """What each field holds (an Input's text without edge blanks, a Choice's value), by id."""
        out: dict[str, Any] = {}
        for w in self.query("Input, Choice"):
            if w.id:
                out[w.id] = w.value.strip() if isinstance(w, Input) else getattr(w, "value", None)
        return out

    def remember_opened(self) -> None:
        """What the fields hold now counts as "nothing typed" (on mount; a dialog that fills its fields
        from a worker, as 站点信息 does, calls it again once they are filled)."""
        self._opened_with = self._field_values()

    def typed(self) -> bool:
        """Has the operator typed or chosen anything here not saved yet (a field unlike when opened)?"""
        return self._field_values() != getattr(self, "_opened_with", {})

    def ask_before_leaving(self, go: Callable[[], Any]) -> bool:
        """An F-key or Ctrl+Q (:meth:`qi_station.app.StationApp.leave_then`) with input typed here asks
        放弃 / 继续编辑 as the request form does, and runs ``go`` only on 放弃; nothing typed: False."""
        from qi_station.screens.form_dialogs import leave_dialog

        if self.LEAVE_ASKS is None:
            return False
        if getattr(self, "_asking", False):
            return True
        if not self.typed():
            return False
        self._asking = True

        def answer(choice: str | None) -> None:
            self._asking = False
            if choice == "discard":
                go()

        self.app.push_screen(leave_dialog(self.LEAVE_ASKS), answer)
        return True


class OkCancelModal(LeaveAsks, StationModal):
    """A dialog with 确定 (``#ok``: :meth:`action_ok`) and 取消 (any other button, Esc: closes with None).
    It asks before an F-key or Ctrl+Q drops what was typed here (:class:`LeaveAsks`); every dialog with
    fields asks (整改, 更正, 转办, 站点信息, backup, a filter's name ...)."""

    BINDINGS = bindings("modal")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_ok()
        else:
            self.dismiss(None)

    def action_ok(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(events.Mount)
    def _remember_opened(self) -> None:
        self.remember_opened()
        self._asking = False


class WorkerDialog(OkCancelModal):
    """A dialog that writes in a thread worker: a title, the subclass's rows (:meth:`compose_fields`), an
    ``#error`` line and its buttons. :class:`Saved` closes it, :class:`Failed` shows why in the ``#error``
    line: every bad field of a ValidationError at once, one line each, the first one (in the dialog's
    order) focused. Subclasses give :meth:`dialog_title`, :meth:`compose_fields` and :meth:`action_ok`,
    which hands the write to :meth:`write`."""

    OK_LABEL = "btn.save"
    #: ``ValidationError.field`` -> the catalogue key of the label this dialog shows beside that field,
    #: where the core's field name (a CLI option such as ``out``) is no label of its own
    FIELD_LABELS: dict[str, str] = {}

    def dialog_title(self) -> str:
        return ""

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.dialog_title(), classes="dialog-title", markup=False)
            yield from self.compose_fields()
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t(self.OK_LABEL), id="ok", variant="primary", compact=True)
                yield Button(t("btn.cancel"), id="cancel", compact=True)

    _writing = False  # a write is on its way: a second Ctrl+S / Enter before its answer writes nothing

    def holds_keys(self, key: str = "") -> bool:
        """Keys typed while the write is on its way wait for its answer (the app holds them:
        ``StationApp._hold_for_focus``): after Saved they reach the screen below (the request detail's
        next move in ``a Ctrl+S s Ctrl+S``), after Failed the dialog kept open."""
        return self._writing

    def write(self, job: Callable[[], Any]) -> None:
        """Run ``job`` (a service call, its values read on the UI thread) in a thread worker -- once: a
        second submit while the first is being written is ignored (Ctrl+S Ctrl+S wrote a note twice)."""
        if self._writing:
            return
        self._writing = True
        self.query_one("#error", Static).update(t("msg.saving"))
        self._write(job)

    @work(thread=True, exclusive=True, group="dialog-write")
    def _write(self, job: Callable[[], Any]) -> None:
        try:
            result = job()
        except Exception as e:  # noqa: BLE001 - every failure is shown, the dialog keeps the input
            self.post_message(Failed(e))
            return
        self.post_message(Saved(result))

    def refer(self, request_id: str, kind: str, item_id: str, note: str, reason: str) -> None:
        """Refer ``request_id`` to a library item (the referral's rules are the ledger's)."""
        db, actor = self.station.db_path, self.station.operator

        def job() -> Any:
            from qi_station.services.ledger import refer_request

            return refer_request(
                db, request_id, kind, item_id, note or None, actor=actor, reason=reason or None
            )

        self.write(job)

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        event.stop()
        self.dismiss(event.result)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        from qi_station.core.errors import ValidationError, every_error

        event.stop()
        self._writing = False  # the input is kept: the operator may correct it and save again
        e = event.error
        if not isinstance(e, ValidationError):
            self.query_one("#error", Static).update(error_message(e))
            return
        ids = [w.id for w in self.query("*") if w.id]  # the dialog's order, top first
        errors = sorted(every_error(e), key=lambda x: ids.index(x.field) if x.field in ids else len(ids))
        self._errors = errors
        self.query_one("#error", Static).update("\n".join(self.validation_text(x) for x in errors))
        target = self.query(f"#{errors[0].field}")
        if target and target.first().focusable:
            target.first().focus()

    def validation_text(self, e: Any) -> str:
        """``<the field's label as the dialog shows it>: <the rule's message>``: never a CLI option name."""
        key = self.FIELD_LABELS.get(e.field)
        return f"{t(key) if key else field_label(e.field)}: {err_text(e)}"

    @on(Choice.Changed)
    @on(Input.Changed)
    def _field_edited(self, event: Choice.Changed | Input.Changed) -> None:
        """A field the operator changes loses its message (回访须填写满意度 once a rating is chosen)."""
        if event.control.id:
            self.drop_errors(event.control.id)

    def drop_errors(self, *fields: str) -> None:
        """The messages about ``fields`` leave the ``#error`` line; the others' stay."""
        errors = getattr(self, "_errors", [])
        if any(x.field in fields for x in errors):
            self._errors = [x for x in errors if x.field not in fields]
            self.query_one("#error", Static).update("\n".join(self.validation_text(x) for x in self._errors))


class ConfirmDialog(StationModal):
    BINDINGS = bindings("modal")

    def __init__(
        self,
        title: str,
        question: str,
        *,
        yes: str | None = None,
        no: str | None = None,
        default_no: bool = False,
    ) -> None:
        """``default_no``: the answer button focused at first is No (Enter keeps things as they are, as
        for overwriting a file); ``yes``/``no``: the buttons' words (Yes / No when not given)."""
        super().__init__()
        self._title = title
        self._question = question
        self._yes, self._no, self._default_no = yes or t("btn.yes"), no or t("btn.no"), default_no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="dialog-title", markup=False)
            yield Static(self._question, markup=False)
            with Horizontal(classes="buttons"):  # no blue default: the focused button is the marked one
                yield Button(self._yes, id="yes", compact=True)
                yield Button(self._no, id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no" if self._default_no else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_ok(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class InputDialog(OkCancelModal):
    """One value asked. ``check``: the core's rule for it (returns the value to answer); a refusal is
    shown in the dialog, which stays open (an empty filter name closed it silently)."""

    def __init__(
        self, title: str, label: str, value: str = "", check: Callable[[str], str] | None = None
    ) -> None:
        super().__init__()
        self._title, self._label, self._value, self._check = title, label, value, check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="dialog-title", markup=False)
            with Horizontal(classes="row"):
                yield Label(self._label)
                yield Input(self._value, id="value", compact=True)
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t("btn.ok"), id="ok", variant="primary", compact=True)
                yield Button(t("btn.cancel"), id="cancel", compact=True)

    def on_input_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        from qi_station.core.errors import ValidationError

        value = self.query_one("#value", Input).value
        if self._check is not None:
            try:
                value = self._check(value)
            except ValidationError as e:
                self.query_one("#error", Static).update(err_text(e))
                self.query_one("#value", Input).focus()
                return
        self.dismiss(value)


class MoveDialog(WorkerDialog):
    """Move a request: the outcome form on resolve, satisfaction on the follow-up, a note always.
    The dialog calls the core itself (in a worker) and stays open with every bad field on an error."""

    LEAVE_ASKS = "move"  # half-typed outcome, rating or note: a screen switch asks first (WorkerDialog)

    def __init__(self, request_id: str, number: str, to_status: str) -> None:
        super().__init__()
        self.request_id, self.number, self.to_status = request_id, number, to_status

    def dialog_title(self) -> str:
        return t("move.title", number=self.number, status=status_name(self.to_status))

    def compose_fields(self) -> ComposeResult:
        if self.to_status == "resolved":
            with Horizontal(classes="row"):
                yield Label(t("field.result"))
                yield Input(id="result", compact=True, placeholder=t("ph.result"))
            with Horizontal(classes="row"):
                yield Label(t("field.problems_solved"))
                yield Input(id="problems_solved", compact=True, placeholder=t("ph.problems_solved"))
            with Horizontal(classes="row"):
                yield Label(t("field.cost_saved"))
                # 万元: its example (shown once the 0 is cleared) is of that order, never 1200.50
                yield Input("0", id="cost_saved", compact=True, placeholder=t("ph.cost_saved"))
            with Horizontal(classes="row"):  # 收费金额: a fee means the service was charged
                yield Label(t("field.fee"))
                yield Input(id="fee", compact=True, placeholder=t("ph.fee"))
        if self.to_status == "closed":
            with Horizontal(classes="row"):
                yield Label(t("field.satisfaction"))
                yield Choice(  # nothing chosen: the operator picks (arrows stop at 1 and 5, or a digit)
                    [(n, f"{n} {satisfaction_name(n)}") for n in (1, 2, 3, 4, 5)],
                    None,
                    id="satisfaction",
                    placeholder=t("ph.satisfaction"),
                    wrap=False,
                    type_on=True,  # text typed after the rating goes on in 备注 (arrows still step it)
                )
        with Horizontal(classes="row"):
            yield Label(t("field.note"))
            yield Input(id="note", compact=True)

    def _val(self, wid: str) -> str | None:
        found = self.query(f"#{wid}")
        return found.first(Input).value if found else None

    def action_ok(self) -> None:
        kw: dict[str, Any] = {"note": self._val("note")}
        if self.to_status == "resolved":
            kw.update(
                result=self._val("result"),
                problems_solved=self._val("problems_solved"),
                cost_saved=self._val("cost_saved"),
                fee=self._val("fee"),
            )
        if self.to_status == "closed":
            kw["satisfaction"] = self.query_one("#satisfaction", Choice).value
        db, rid, to, actor = self.station.db_path, self.request_id, self.to_status, self.station.operator

        def job() -> Any:
            from qi_station.services.ledger import move_request

            return move_request(db, rid, to, actor=actor, **kw)

        self.write(job)


class NoteDialog(WorkerDialog):
    """A free-standing note on a request's ledger (status unchanged). Stays open, text kept, on an error."""

    def __init__(self, request_id: str, number: str) -> None:
        super().__init__()
        self.request_id, self.number = request_id, number

    def dialog_title(self) -> str:
        return t("note.title", number=self.number)

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(t("field.note"))
            yield Input(id="note", compact=True, max_length=2000)

    LEAVE_ASKS = "note"  # a half-typed note asks before a screen switch drops it (WorkerDialog)

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        db, rid, actor = self.station.db_path, self.request_id, self.station.operator
        note = self.query_one("#note", Input).value

        def job() -> Any:
            from qi_station.services.ledger import add_note

            return add_note(db, rid, note, actor=actor)

        self.write(job)


def _suggestion_line(it: dict[str, Any], why: list[str], width: int) -> str:
    """One suggestion on one line of ``width`` cells: the score, the name, the city and the reasons in
    full -- the name is what gets shortened (``..``), then the city left out; only a line still too wide
    is cut at its end."""
    from rich.cells import cell_len

    head, reasons = f"{it['score']:>3}  ", f"({', '.join(why)})"
    name, city = str(it["name"]), str(it.get("city_name") or "")
    for tail in (f"  {city}  {reasons}" if city else f"  {reasons}", f"  {reasons}"):
        room = width - cell_len(head) - cell_len(tail)
        if room >= min(12, cell_len(name)):
            return head + clip(name, room) + tail
    return clip(f"{head}{name}  {reasons}", width)


class ReferDialog(WorkerDialog):
    """Refer a request: pick a library kind, see ranked suggestions, refer to the highlighted one."""

    DEFAULT_CSS = """
    ReferDialog OptionList { height: 10; background: $surface; }
    ReferDialog OptionList > .option-list--option-highlighted { background: $accent; color: $text; text-style: bold; }
    """
    OK_LABEL = "btn.refer"
    KINDS = ("expert", "institution", "equipment", "project")
    #: keys that move the suggestions' highlight whatever has focus (the kind field after opening or Right)
    LIST_KEYS = {"up": "cursor_up", "down": "cursor_down", "pageup": "page_up", "pagedown": "page_down"}

    def __init__(self, request_id: str, number: str) -> None:
        super().__init__()
        self.request_id, self.number = request_id, number
        self.items: list[dict[str, Any]] = []
        self._loading = False  # a kind's suggestions are on their way: the list shows the previous kind's
        self._pending: list[str] = []  # list keys typed meanwhile, applied to the new list

    def dialog_title(self) -> str:
        return t("refer.title", number=self.number)

    def compose_fields(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(t("field.kind"))
            yield Choice([(k, kind_name(k)) for k in self.KINDS], "expert", id="kind")
        yield Static(t("refer.suggestions"), classes="muted")
        suggestions = OptionList(id="suggestions")
        # not in the Tab order: the arrows move it from any field (on_key), and a focused list swallowed
        # what was typed after kind, Tab (the note was lost); Tab goes from the kind to the note
        suggestions.can_focus = False
        yield suggestions
        yield Static("", id="target", markup=False)  # whom Ctrl+S refers to: the highlighted suggestion
        with Horizontal(classes="row"):
            yield Label(t("field.note"))
            # typing on the kind field moves here with its first character (_to_note): selecting all on
            # focus made the second character replace the first
            yield Input(id="note", compact=True, select_on_focus=False)
        with Horizontal(classes="row", id="reason-row"):  # shown for an unqualified institution
            yield Label(t("field.reason"))
            yield Input(id="reason", compact=True, max_length=200, placeholder=t("ph.reason"))

    def on_mount(self) -> None:
        from qi_station.screens.base import title_line

        self.query_one("#reason-row").display = False
        # the dialog fills the screen's height at 80x24: the title bar over it says where the operator is
        where = f"{t('screen.detail')}  >  {t('btn.refer')}"
        bar = Static(title_line(where, self.station.operator), id="titlebar", markup=False)
        self.mount(bar, before=0)
        self._load("expert")

    def _load(self, kind: str) -> None:
        self._loading = True
        self.load(self.station.db_path, self.request_id, kind)

    def on_key(self, event: Any) -> None:
        """Up/Down/PageUp/PageDown move the highlighted suggestion whatever has focus (the kind field,
        the note): the list is what they point at. Typed before a kind's list is in, they wait for it."""
        action = self.LIST_KEYS.get(event.key)
        ol = self.query_one("#suggestions", OptionList)
        if action is None and self._to_note(event):
            return
        if action is None or self.focused is ol:
            return
        event.stop()
        event.prevent_default()
        if self._loading:
            self._pending.append(action)
        else:
            getattr(ol, f"action_{action}")()

    def _to_note(self, event: Any) -> bool:
        """Text typed on the kind field or a button (where it meant nothing and was dropped: 联系专家上门
        typed right after ``r``) goes to the note: focus moves there, the character with it. A space is
        left to the field or button it belongs to (it opens the kind's list, presses a button)."""
        if isinstance(self.focused, Input) or not event.is_printable or event.character in (None, " "):
            return False
        note = self.query_one("#note", Input)
        self.set_focus(note)  # at once: the next key of a burst already lands in the note
        note.insert_text_at_cursor(event.character)
        event.stop()
        event.prevent_default()
        return True

    def _highlighted_item(self) -> dict[str, Any] | None:
        """The suggestion the list highlights (by its option id: what is shown is what is referred)."""
        ol = self.query_one("#suggestions", OptionList)
        if self._loading or ol.highlighted is None:
            return None
        option_id = ol.get_option_at_index(ol.highlighted).id
        return next((it for it in self.items if it["id"] == option_id), None)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Name the target; an institution not qualified for the request's elements needs a reason:
        show its field."""
        item = self._highlighted_item() or {}
        self.query_one("#target", Static).update(
            t("refer.confirm", kind=kind_name(item["kind"]), name=item["name"]) if item else ""
        )
        unqualified = item.get("kind") == "institution" and not item.get("qualified")
        self.query_one("#reason-row").display = unqualified
        self.query_one("#error", Static).update(
            t("refer.unqualified", state=t(f"qual.{item.get('qualification')}")) if unqualified else ""
        )

    def on_choice_changed(self, event: Choice.Changed) -> None:
        self._load(event.value)

    @work(thread=True, exclusive=True, group="suggest")
    def load(self, db_path: Path, request_id: str, kind: str) -> None:
        from qi_station.services.matching import suggest

        try:
            items = suggest(db_path, request_id, kind, limit=10)
        except Exception as e:  # noqa: BLE001
            self.post_message(Failed(e))
            return
        self.post_message(SuggestionsLoaded(items, kind))

    @on(SuggestionsLoaded)
    def _show(self, event: SuggestionsLoaded) -> None:
        event.stop()
        if event.kind not in (None, self.query_one("#kind", Choice).value):
            return  # an older kind's answer: the current kind's is on its way
        self._loading = False
        pending, self._pending = self._pending, []
        items = self.items = event.items
        ol = self.query_one("#suggestions", OptionList)
        ol.clear_options()
        if not items:
            ol.add_option(Option(t("refer.none"), disabled=True))
            return
        width = max(10, ol.scrollable_content_region.width - 2)  # room for a scrollbar
        for it in items:
            why = []
            if it["element_match"]:
                why.append(t("match.elements", n=it["element_match"]))
            if it["same_city"]:
                why.append(t("match.city"))
            if it.get("basis"):  # an institution: what was checked (core.qualify.basis), not just "valid"
                why.append(it["basis"]["en" if get_lang() == "en" else "zh"])
            elif it["qualified"] and it.get("kind") in ("equipment", "project"):  # shared / not finished
                why.append(t(f"match.{it['kind']}"))
            why.append(t("match.load", n=it["load"]))
            ol.add_option(Option(_suggestion_line(it, why, width), id=it["id"]))
        ol.highlighted = 0
        for action in pending:
            getattr(ol, f"action_{action}")()

    def on_option_list_option_selected(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        item = self._highlighted_item()
        if item is None:
            self.query_one("#error", Static).update(t("refer.loading" if self._loading else "refer.pick"))
            return
        self.refer(
            self.request_id,
            item["kind"],
            item["id"],
            self.query_one("#note", Input).value,
            self.query_one("#reason", Input).value,
        )


def status_choices(include_all: bool = True) -> list[tuple[str, str]]:
    out = [("", t("filter.all_status"))] if include_all else []
    return out + [(s, status_name(s)) for s in domain.STATUSES]
