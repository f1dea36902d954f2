"""Errors the core raises. A ``ValidationError`` names the field and the rule."""

from __future__ import annotations


class QIError(Exception):
    """Base class for errors that reach the user as a message (no traceback)."""

    exit_code = 1


class ValidationError(QIError):
    """Bad input: names the field and the rule; nothing was written. Every display puts the field in
    front of the message (``error: received_at: …``, the forms' ``label: …``), so a message that begins
    with its field's name (``received_at is in the future``) is kept without it (:func:`_unprefixed`)."""

    exit_code = 2

    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = _unprefixed(field, message)
        super().__init__(f"{field}: {self.message}")

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def _unprefixed(field: str, message: str) -> str:
    """``message`` without a leading ``field`` (``received_at is in the future`` -> ``is in the future``;
    ``received_at: …`` -> ``…``): the one place a field's name is kept out of its own message."""
    for lead in (f"{field}: ", f"{field} "):
        if field and message.startswith(lead) and len(message) > len(lead):
            return message[len(lead) :]
    return message


class ValidationErrors(ValidationError):
    """Several bad fields of one input, in form order (top first): every one is reported at once.
    ``field``/``rule``/``message`` are the first error's, so code that handles one error still works."""

    def __init__(self, errors: list[ValidationError]) -> None:
        if not errors:
            raise ValueError("ValidationErrors needs at least one error")
        first = errors[0]
        super().__init__(first.field, first.rule, first.message)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(f"{e.field}: {e.message}" for e in self.errors)


def every_error(e: ValidationError) -> list[ValidationError]:
    """The errors one refused input carries (one, or each of a :class:`ValidationErrors`)."""
    return list(e.errors) if isinstance(e, ValidationErrors) else [e]


class NotFoundError(QIError):
    """No ``what`` (request, enterprise, staff, a library item's kind) is known by ``key``; the message
    is bilingual like a ValidationError's, ``rule`` its tag."""

    exit_code = 2
    rule = "not_found"

    def __init__(self, what: str, key: str) -> None:
        from qi_station.core.domain import KIND_TABLE, KIND_ZH

        self.what = what
        self.key = key
        plural = {v: k for k, v in KIND_TABLE.items()}.get(what, what)
        zh = {"request": "需求", "staff": "人员"}.get(what) or KIND_ZH.get(plural, what)
        super().__init__(f"{what} not found: {key} / 找不到{zh}: {key}")


class TransitionError(ValidationError):
    """A lifecycle move the table does not allow; the message names both statuses as people read them."""

    def __init__(self, from_status: str, to_status: str) -> None:
        from qi_station.core.domain import STATUS_EN, STATUS_ZH

        en_from, en_to = STATUS_EN.get(from_status, from_status), STATUS_EN.get(to_status, to_status)
        zh_from, zh_to = STATUS_ZH.get(from_status, from_status), STATUS_ZH.get(to_status, to_status)
        super().__init__(
            "status",
            "lifecycle",
            f"cannot move from {en_from} to {en_to} / 不允许从「{zh_from}」转为「{zh_to}」",
        )
        self.from_status = from_status
        self.to_status = to_status


class DatabaseError(QIError):
    exit_code = 1


def zh_quoted(value: object) -> str:
    """A value in a message's Chinese half: text in 「」 (the zh catalogue's quotes, never ASCII ones)
    with control characters escaped as ``repr`` escapes them (a station code or ledger value may hold
    ESC or BEL: the English half's ``!r`` never echoed them raw, nor may this); a number or None as
    Python writes it."""
    return f"「{repr(value)[1:-1]}」" if isinstance(value, str) else repr(value)
