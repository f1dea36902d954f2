"""The request form's questions: leave an unsaved form (keep the draft / discard / keep editing),
restore a draft, and "was the enterprise renamed?". Each answers with the id of the button pressed;
Esc is always the harmless answer (keep editing, decide later)."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from qi_station.i18n import t
from qi_station.screens.base import StationModal


class ChoicesDialog(StationModal):
    """A question with a few answers (buttons; ``default``, else the first, highlighted and focused, so a
    reflexive Enter picks it: always the harmless answer); Esc answers ``escape_id``.
    Left/Right move between the buttons (every dialog's: StationModal); nothing is chosen without Enter or a click -- or Ctrl+S where
    the question has a saving answer (``ok_id``: 保存草稿). The footer shows Esc and Ctrl+S with the
    answers' own words."""

    BINDINGS = [
        Binding("escape", "escape", "", show=False),
        Binding("ctrl+s", "ok", "", show=False, priority=True),
    ]

    def __init__(
        self,
        title: str,
        question: str,
        answers: list[tuple[str, str]],
        escape_id: str,
        default: str | None = None,
        ok_id: str | None = None,
    ) -> None:
        super().__init__()
        self._title, self._question, self._answers, self._escape = title, question, answers, escape_id
        self._default = default if default is not None else answers[0][0]
        self._ok = ok_id
        words = dict(answers)
        # the footer's words: each key's answer (Esc: 稍后 where no button says it); _bindings: private,
        # no public way to word an instance's binding (as localize_bindings)
        for key, action, word in (
            ("escape", "escape", words.get(escape_id, t("btn.later"))),
            ("ctrl+s", "ok", words.get(ok_id or "", "")),
        ):
            self._bindings.key_to_bindings[key] = [
                Binding(key, action, word, show=bool(word), priority=key == "ctrl+s")
            ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "ok":
            return self._ok is not None
        return True

    def action_ok(self) -> None:
        if self._ok is not None:
            self.dismiss(self._ok)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="dialog-title", markup=False)
            yield Static(self._question, markup=False)
            with Horizontal(classes="buttons"):
                for aid, label in self._answers:
                    yield Button(
                        label,
                        id=f"ans-{aid}",
                        variant="primary" if aid == self._default else "default",
                        compact=True,
                    )

    def on_mount(self) -> None:
        self.query_one(f"#ans-{self._default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(str(event.button.id).removeprefix("ans-"))

    def action_escape(self) -> None:
        self.dismiss(self._escape)


def leave_dialog(what: str = "form") -> ChoicesDialog:
    """保存草稿 / 放弃 / 继续编辑 before an unsaved form is left (保存草稿 the default); 放弃 / 继续编辑
    before a half-typed dialog (``what="note"``: a note keeps no draft) is (继续编辑 the default: a
    reflexive Enter never throws typed text away)."""
    keep = [("keep", t("btn.keep_draft"))] if what == "form" else []
    return ChoicesDialog(
        t(f"{what}.leave_title"),
        t(f"{what}.leave_question"),
        [*keep, ("discard", t("btn.discard")), ("edit", t("btn.keep_editing"))],
        "edit",
        default="keep" if keep else "edit",
        ok_id="keep" if keep else None,
    )


class RestoreDialog(ChoicesDialog):
    """有未保存的草稿，恢复？ over a form just opened. The operator often types the new request at once
    (keys typed after F4 came to the question and were lost): a character typed (or text pasted) here
    answers 稍后 (the draft stays for the next time), and what was typed while it was up is kept in
    :attr:`typed` for the form's focused field (``DraftedForm._offer_draft``)."""

    typed = ""  # the text typed while the question was up, in order

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            self._type(event.character)
            event.stop()
            event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        self._type(event.text)
        event.stop()

    def _type(self, text: str) -> None:
        first = not self.typed
        self.typed += text
        if first:
            self.dismiss("later")


def restore_dialog(when: str, summary: str, count: int = 1) -> RestoreDialog:
    """有未保存的草稿，恢复？ (恢复 / 放弃 / 稍后: 稍后 the default, as Esc: a reflexive Enter keeps the
    draft for later and never fills the form with it). ``count`` drafts kept: the newest is asked about,
    the question says how many are kept (each is offered in its turn, none overwrites another)."""
    question = t("form.draft_question", when=when, summary=summary)
    if count > 1:
        question += "\n" + t("form.drafts_kept", n=count)
    return RestoreDialog(
        t("form.draft_title"),
        question,
        [("restore", t("btn.restore")), ("discard", t("btn.discard")), ("later", t("btn.later"))],
        "later",
        default="later",
    )


def rename_dialog(uscc: str, old: str, new: str) -> ChoicesDialog:
    """The USCC is registered under another name: renamed (record it) / use the registered name / edit
    (the default: a reflexive Enter never renames the library's enterprise)."""
    return ChoicesDialog(
        t("form.rename_title"),
        t("form.rename_question", uscc=uscc, old=old, new=new),
        [("renamed", t("btn.renamed")), ("known", t("btn.use_known")), ("edit", t("btn.keep_editing"))],
        "edit",
        default="edit",
    )
