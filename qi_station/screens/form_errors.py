"""How the request form shows a refused save: every bad field's message beside it (fields sharing a row
share its line), in form order; the first bad field focused and scrolled into view with its message; a
summary line outside the scrolling form (always on the screen, even at 80x24). Editing a field takes
its message away and the summary follows what is left."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Input, Static, TextArea

from qi_station.core.errors import ValidationError
from qi_station.i18n import err_text, field_label, t

# ValidationError.field -> the widget whose error slot shows it
FIELD_SLOT = {
    "enterprise": "enterprise",
    "name": "enterprise",
    "industry": "enterprise",
    "scale": "enterprise",
    "uscc": "uscc",
    "region": "uscc",
    "elements": "elements",
    "title": "title",
    "description": "description",
    "sub_type": "title",
    "channel": "channel",
    "urgency": "urgency",
    "received_at": "received_at",
    "promised": "promised",
    "contact": "contact",
    "phone": "phone",
}
SLOTS = ("enterprise", "uscc", "elements", "title", "description", "channel", "received_at", "contact")
# widgets that share a row share that row's error slot
ROW_OF = {"urgency": "channel", "promised": "received_at", "phone": "contact"}


class FormErrors:
    """Mixed into the request form (a Screen): ``#err-<slot>`` lines, the ``#form-error`` summary."""

    _errors: tuple[ValidationError, ...] = ()  # the last refused save's errors still standing

    def _set_error(self, field: str, message: str) -> None:
        """``message`` on the line of ``field``'s row (empty: the line goes), the field marked bad."""
        found = self.query(f"#err-{ROW_OF.get(field, field)}")  # type: ignore[attr-defined]
        if found:
            w = found.first(Static)
            w.update(message)
            w.set_classes("field-error" if message else "field-error hidden")
        self._mark(field, bool(message))

    def _mark(self, field: str, bad: bool) -> None:
        widget = self.query(f"#{field}")  # type: ignore[attr-defined]
        if widget and isinstance(widget.first(), Input | TextArea):
            widget.first().set_class(bad, "-invalid")

    def _clear_errors(self) -> None:
        self._errors = ()
        for slot in SLOTS:
            self._set_error(slot, "")
        for inp in self.query(Input):  # type: ignore[attr-defined]
            inp.remove_class("-invalid")

    def _row_lines(self, errors: Sequence[ValidationError]) -> dict[str, list[str]]:
        by_slot: dict[str, list[str]] = {}
        for e in errors:
            field = FIELD_SLOT.get(e.field)
            if field:
                by_slot.setdefault(ROW_OF.get(field, field), []).append(
                    f"{field_label(e.field)}: {err_text(e)}"
                )
        return by_slot

    def _show_errors(self, errors: list[ValidationError]) -> None:
        """Every bad field beside its field, named with its rule, in form order; the first bad field gets
        the focus and is scrolled into view with its message."""
        self._errors = tuple(errors)
        for slot, line in self._row_lines(errors).items():
            self._set_error(slot, "; ".join(line))
        self._summarize()
        first = FIELD_SLOT.get(errors[0].field)
        if first is None:
            return
        focus = "el-standards" if first == "elements" else first
        target = self.query(f"#{focus}")  # type: ignore[attr-defined]
        if target and target.first().focusable:
            target.first().focus()
        msg = self.query_one(f"#err-{ROW_OF.get(first, first)}")  # type: ignore[attr-defined]
        # after the focus has scrolled to the field: its message below it too
        self.call_after_refresh(lambda: msg.scroll_visible(animate=False))  # type: ignore[attr-defined]

    def key_hint(self) -> str:
        """The summary line with no error standing: the form's keys (the focused field's own where it
        has some: :meth:`RequestFormScreen.key_hint`)."""
        return t("form.hint")

    def _summarize(self) -> None:
        """The summary line: the errors still standing (the first one named), or the key hint."""
        status = self.query_one("#form-error", Static)  # type: ignore[attr-defined]
        errors = self._errors
        if not errors:
            status.update(self.key_hint())
            status.set_classes("muted")
            return
        first = errors[0]
        if len(errors) > 1:
            text = t("form.errors", n=len(errors), field=field_label(first.field), message=err_text(first))
        else:
            text = t("form.failed", field=field_label(first.field), message=err_text(first))
        status.update(text)
        status.set_classes("error")

    def field_edited(self, field: str) -> None:
        """The operator changed ``field``: its messages go, the rest of its row and the summary stay
        true to what is left."""
        if not self._errors:
            return
        slot = FIELD_SLOT.get(field, field)
        row = ROW_OF.get(slot, slot)
        left = tuple(e for e in self._errors if FIELD_SLOT.get(e.field) != slot)
        if len(left) == len(self._errors):
            return
        self._errors = left
        self._set_error(row, "; ".join(self._row_lines(left).get(row, [])))
        for f in {row, slot}:  # the red mark only on the row's fields still bad
            self._mark(f, any(FIELD_SLOT.get(e.field) == f for e in left))
        self._summarize()
