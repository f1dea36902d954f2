"""Message catalogues for the TUI: zh-CN (default) and English.

``t("key", n=3)`` looks the key up in the current language and formats it.  Catalogues live in
``qi_station/locales/{zh,en}.py`` as plain dicts (no parsing at start-up); a test checks that both
have exactly the same keys.  Core error messages are bilingual ("english / 中文"): :func:`err_text`
picks the half that matches the language.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LANGS = ("zh", "en")
_lang = "zh"
_cat: dict[str, str] | None = None


def normalize_lang(lang: str | None) -> str:
    v = (lang or "zh").strip().lower().replace("_", "-")
    if v.startswith("en"):
        return "en"
    return "zh"


def catalogue(lang: str) -> dict[str, str]:
    if normalize_lang(lang) == "en":
        from qi_station.locales.en import MESSAGES as EN

        return EN
    from qi_station.locales.zh import MESSAGES as ZH

    return ZH


def text(key: str, lang: str, **kw: Any) -> str:
    """The catalogue text of ``key`` in ``lang`` (not the current language: the CLI's ``--lang``)."""
    msg = catalogue(lang).get(key, key)
    return msg.format(**kw) if kw else msg


def human_size(n: int) -> str:
    """A file's size as people read it (``824 B``, ``3.4 MiB``): the backup's message, TUI and CLI."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # not reached


def set_lang(lang: str | None) -> str:
    global _lang, _cat
    _lang = normalize_lang(lang)
    _cat = catalogue(_lang)
    return _lang


def get_lang() -> str:
    return _lang


def t(key: str, **kw: Any) -> str:
    global _cat
    if _cat is None:
        _cat = catalogue(_lang)
    text = _cat.get(key)
    if text is None:
        return key
    if kw:
        try:
            return text.format(**kw)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def move_name(from_status: str | None, to_status: str) -> str:
    """A move's name: the reopen of a resolved request has its own (``domain.REOPEN_ZH``), any other
    move is named by the status it leads to."""
    from qi_station.core import domain

    if domain.is_reopen(from_status, to_status):
        return domain.REOPEN_EN if _lang == "en" else domain.REOPEN_ZH
    return status_name(to_status)


def status_name(code: str | None) -> str:
    from qi_station.core import domain

    if not code:
        return ""
    table = domain.STATUS_EN if _lang == "en" else domain.STATUS_ZH
    return table.get(code, code)


def referred_text(ref: dict[str, Any], lang: str | None = None) -> str:
    """What a referral did (``ledger.refer_request``'s answer): 已转办至 X, or, for a request the lifecycle
    does not move to 已转办 (new, accepted, waiting: only 处理中 moves), that it is recorded and the
    request keeps its status (an operator saw 已登记 and thought the referral lost)."""
    from qi_station.core import domain

    lang = lang or _lang
    status = ref.get("request_status")
    if status is None or status == "referred":
        return text("msg.referred", lang, name=ref["item_name"])
    table = domain.STATUS_EN if lang == "en" else domain.STATUS_ZH
    return text("msg.referred_kept", lang, name=ref["item_name"], status=table.get(status, status))


def status_short(code: str | None) -> str:
    """A status name that fits a table column (English "Waiting on enterprise" is too wide)."""
    key = f"status_short.{code}"
    return t(key) if code and has(key) else status_name(code)


def element_name(code: str) -> str:
    from qi_station.core import domain

    table = domain.ELEMENT_EN if _lang == "en" else domain.ELEMENT_ZH
    return table.get(code, code)


def element_short(code: str) -> str:
    """An element name that fits a form chip (English "Intellectual property" is too wide)."""
    key = f"element_short.{code}"
    return t(key) if has(key) else element_name(code)


def elements_text(codes: list[str] | None, sep: str = ", ") -> str:
    return (sep if _lang == "en" else "、").join(element_name(c) for c in codes or [])


def channel_name(code: str | None) -> str:
    from qi_station.core import domain

    return domain.label(domain.CHANNEL_EN if _lang == "en" else domain.CHANNEL_ZH, code)


def urgency_name(code: str | None) -> str:
    from qi_station.core import domain

    return domain.label(domain.URGENCY_EN if _lang == "en" else domain.URGENCY_ZH, code)


def fee_unit_name(code: str | None) -> str:
    """An equipment fee unit ('hour', 'sample') as people read it: one table in ``core.domain``."""
    from qi_station.core import domain

    return domain.label(domain.FEE_UNIT_EN if _lang == "en" else domain.FEE_UNIT_ZH, code)


def role_name(code: str) -> str:
    from qi_station.core import domain

    return (domain.ROLE_EN if _lang == "en" else domain.ROLE_ZH).get(code, code)


def satisfaction_name(n: int | None) -> str:
    from qi_station.core import domain

    if n is None:
        return ""
    table = domain.SATISFACTION_EN if _lang == "en" else domain.SATISFACTION_ZH
    return table.get(int(n), str(n))


def _word(key: str, lang: str | None, default: str) -> str:
    """The catalogue text of ``key`` in ``lang`` (the current language unless given), else ``default``."""
    return catalogue(lang).get(key, default) if lang else (t(key) if has(key) else default)


def kind_name(kind: str, lang: str | None = None) -> str:
    """'expert' or 'experts' -> the library's name (in ``lang``: the current language unless given)."""
    plural = kind if kind.endswith("s") or kind == "equipment" else kind + "s"
    return _word(f"kind.{plural}", lang, f"kind.{plural}")


def event_name(kind: str, lang: str | None = None) -> str:
    """THE name of a ledger event's kind (``created`` 登记, ``status`` 状态变更, ``referral`` 转办 …: the
    ``event.*`` keys), in ``lang`` (the current language unless given); a kind without one as itself.
    The detail screen's history and ``qi-station request show`` name events by it."""
    return _word(f"event.{kind}", lang, kind)


def event_detail(kind: str, data: Any, lang: str | None = None, *, outcome: bool = False) -> str:
    """What a history line shows of an event beyond its name, move and note (THE text of both ``request
    show`` and the detail screen's history): a rectify record's 整改人 (``data.by``: who did the
    rectification; its note is what was done, its actor who recorded it); a ``hub`` event whose status
    the station did not take (``data.adopted`` false: its own move came first or overrode the
    province's, e.g. a cancellation) names the province's status (``data.hub_status``); with ``outcome``, a
    resolution's 办理结果, 解决问题数 and 节约成本 (what that 办结 recorded: a reopened request's earlier outcome
    stays readable in its history) and a follow-up's 满意度 (what that 回访 recorded). In ``lang`` (the current
    language unless given); empty for the
    rest."""
    if kind == "rectify" and isinstance(data, dict) and data.get("by"):
        return f"  [{field_label('by', lang)}: {data['by']}]"
    if kind == "hub" and isinstance(data, dict) and data.get("adopted") is False and data.get("hub_status"):
        # the province's status this station did not take (its own move came first, or overrode it)
        from qi_station.core import domain

        names = domain.STATUS_EN if (lang or _lang) == "en" else domain.STATUS_ZH
        hub = names.get(str(data["hub_status"]), str(data["hub_status"]))
        return f"  [{_word('event.hub_overridden', lang, 'event.hub_overridden').format(hub=hub)}]"
    if outcome and kind == "status" and isinstance(data, dict) and "problems_solved" in data:
        parts = [f"{field_label('result', lang)}: {data['result']}"] if data.get("result") else []
        if data.get("problems_solved") is not None:
            parts.append(f"{field_label('problems_solved', lang)}: {data['problems_solved']}")
        if data.get("cost_saved") is not None:  # as recorded: a later correction's old value is this one
            parts.append(f"{field_label('cost_saved', lang)}: {data['cost_saved']}")
        return f"  [{'; '.join(parts)}]" if parts else ""
    if outcome and kind == "status" and isinstance(data, dict) and data.get("satisfaction") is not None:
        from qi_station.core import domain  # a follow-up's rating (回访: 满意度), as the 办结 line its result

        levels = domain.SATISFACTION_EN if (lang or _lang) == "en" else domain.SATISFACTION_ZH
        n = data["satisfaction"]
        return f"  [{field_label('satisfaction', lang)}: {levels.get(n, n) if isinstance(n, int) else n}]"
    return ""


def word(key: str, lang: str | None = None) -> str:
    """The catalogue text of ``key`` in ``lang`` (the current language unless given); the key itself
    when the catalogue has none (the CLI passes its ``--lang``)."""
    return _word(key, lang, key)


def contact_text(name: str | None, phone: str | None, lang: str | None = None) -> str:
    """A contact person and phone on one line (an enterprise's contacts, in ``enterprise show`` and the
    app's enterprise page): a contact without a name reads 未填 / (not given), as in ``request show``,
    so a phone is never read as a name."""
    return f"{name or word('show.not_given', lang)}  {phone or ''}".rstrip()


def city_name(code: str | None) -> str:
    from qi_station.core import places

    if not code:
        return ""
    name = places.full_name(code)
    if _lang == "en":
        return f"{name} ({code})"
    return name


def in_lang(message: str, lang: str) -> str:
    """A bilingual message (``english / 中文``, how core and sync messages are written) in ``lang``
    (not the current language: the CLI's ``--lang``); a message in one language as it is."""
    if " / " not in message:
        return message
    en, zh = message.rsplit(" / ", 1)
    return en if lang == "en" else zh


def err_text(exc: BaseException) -> str:
    """The user-facing text of a core error, in the current language."""
    return in_lang(getattr(exc, "message", None) or str(exc), _lang)


def has(key: str) -> bool:
    global _cat
    if _cat is None:
        _cat = catalogue(_lang)
    return key in _cat


def field_label(name: str, lang: str | None = None) -> str:
    """The label of a form field named by ``ValidationError.field`` (in ``lang``: the current language
    unless given)."""
    return _word(f"field.{name}", lang, name)


def _bare_label(text: str) -> str:
    """A label without its unit (``节约成本(万元)`` / ``节约成本（万元）`` -> ``节约成本``), folded."""
    import re

    return re.sub(r"\s*[(（][^()（）]*[)）]\s*$", "", text.strip()).casefold()


def field_code(text: str, fields: Iterable[str]) -> str:
    """The field among ``fields`` that ``text`` names: its code, or the label the app shows for it in
    either language (:func:`field_label`; with or without its unit: ``节约成本`` and ``节约成本(万元)``
    are ``cost_saved``); ``text`` itself when it names none (the caller's check refuses it)."""
    v = (text or "").strip()
    if v in fields:
        return v
    bare = _bare_label(v)
    for name in fields:
        if any(
            bare in (_bare_label(field_label(name, lang)), field_label(name, lang).casefold())
            for lang in ("zh", "en")
        ):
            return name
    return v
