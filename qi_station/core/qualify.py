"""Qualifications: is an institution valid for this work on this date? THE one rule.

Pure stdlib. Callers: ``services/search.py`` (``--valid-only``, the TUI filter), ``services/matching.py``
(suggestions: an institution that is not valid never outranks one that is), the referral in
``services/referral.py`` (refused without a reason), ``qi-station library expiring``, the dashboard card
and the library lists and details (marks).

The sources (PRODUCT.md; the seed document names the elements but no licences):

- **CMA (资质认定)** is the mandatory licence to issue test data with legal effect: work with the
  element ``testing`` (检验检测) needs a valid CMA. **CNAS** accreditation is voluntary: it never
  makes an institution valid on its own.
- No licence is named for the other elements, so none is required for them. Without any element
  (a filter with no element chosen) "valid" means the institution's licence, the CMA.

A certificate is *valid* through its expiry date (inclusive); *expiring* when it expires within
:data:`EXPIRING_DAYS` days (still valid); *expired* after it; *missing* when no expiry is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, Final

EXPIRING_DAYS: Final = 90
CERTS: Final = ("cma", "cnas")
CERT_LABEL: Final = {"cma": "CMA", "cnas": "CNAS"}
# Which certificates an element needs (every one listed must be valid).
REQUIRED: Final[dict[str, tuple[str, ...]]] = {"testing": ("cma",)}
# The licence "valid" means when no element is given.
DEFAULT_REQUIRED: Final = ("cma",)

VALID, EXPIRING, EXPIRED, MISSING = "valid", "expiring", "expired", "missing"
STATE_ZH: Final = {VALID: "有效", EXPIRING: "将到期", EXPIRED: "已过期", MISSING: "无"}
STATE_EN: Final = {VALID: "valid", EXPIRING: "expiring", EXPIRED: "expired", MISSING: "none"}
# Worst first: the state of several certificates is the worst of them.
_ORDER: Final = {EXPIRED: 0, MISSING: 1, EXPIRING: 2, VALID: 3}


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def cert_state(expiry: object, today: date, days: int = EXPIRING_DAYS) -> str:
    """One certificate's state on ``today`` from its expiry date (a date or ``YYYY-MM-DD`` text)."""
    d = _as_date(expiry)
    if d is None:
        return MISSING
    if d < today:
        return EXPIRED
    if d <= today + timedelta(days=days):
        return EXPIRING
    return VALID


def is_valid(state: str) -> bool:
    """Valid or expiring: the institution may do the work today."""
    return state in (VALID, EXPIRING)


def required(elements: Iterable[str] | None) -> tuple[str, ...]:
    """The certificates work with ``elements`` needs; no elements: the licence (CMA)."""
    els = list(elements or ())
    if not els:
        return DEFAULT_REQUIRED
    out: list[str] = []
    for e in els:
        out += [c for c in REQUIRED.get(e, ()) if c not in out]
    return tuple(out)


def state_for(row: Mapping[str, Any], elements: Iterable[str] | None, today: date) -> str:
    """An institution row (``cma_expiry``, ``cnas_expiry``) for work with ``elements`` on ``today``:
    the worst state of the certificates that work needs; valid when it needs none."""
    states = [cert_state(row.get(f"{c}_expiry"), today) for c in required(elements)]
    return min(states, key=_ORDER.__getitem__) if states else VALID


def basis(row: Mapping[str, Any], elements: Iterable[str] | None, today: date, zh: bool = True) -> str:
    """What :func:`state_for` checked, in words, for a suggestion or a referral line: the certificates
    the work needs with their state (``CMA有效``, ``CMA已过期``, ``无CMA``); when it needs none, that it
    needs none -- and a CMA on record that has lapsed is said, not hidden (``CMA已过期（本要素不要求）``)."""
    need = required(elements)
    if need:
        parts = []
        for c in need:
            st = cert_state(row.get(f"{c}_expiry"), today)
            if st == MISSING:
                parts.append(f"无{CERT_LABEL[c]}" if zh else f"no {CERT_LABEL[c]}")
            else:
                parts.append(f"{CERT_LABEL[c]}{STATE_ZH[st]}" if zh else f"{CERT_LABEL[c]} {STATE_EN[st]}")
        return ("、" if zh else ", ").join(parts)
    cma = cert_state(row.get("cma_expiry"), today)
    if cma == EXPIRED:
        return "CMA已过期（本要素不要求）" if zh else "CMA expired (not needed here)"
    return "无需CMA" if zh else "no CMA needed"


def certs(row: Mapping[str, Any], today: date, days: int = EXPIRING_DAYS) -> dict[str, str]:
    """Each certificate's state (for the marks in lists and details)."""
    return {c: cert_state(row.get(f"{c}_expiry"), today, days) for c in CERTS}


def valid_sql(elements: Iterable[str] | None, today: date, alias: str = "t") -> tuple[str, list[str]]:
    """The same rule as :func:`state_for` ∈ valid/expiring, as an SQL condition over ``alias`` (ISO dates
    compare as text) with its parameters: for filters and rankings that must stay in SQL."""
    need = required(elements)
    if not need:
        return "1", []
    conds = [f"({alias}.{c}_expiry IS NOT NULL AND {alias}.{c}_expiry >= ?)" for c in need]
    return "(" + " AND ".join(conds) + ")", [today.isoformat()] * len(need)


def attention_sql(today: date, days: int = EXPIRING_DAYS, alias: str = "t") -> tuple[str, list[str]]:
    """Institutions with a certificate expired or expiring within ``days`` (the list
    ``library expiring`` shows and the dashboard counts)."""
    horizon = (today + timedelta(days=days)).isoformat()
    conds = [f"({alias}.{c}_expiry IS NOT NULL AND {alias}.{c}_expiry <= ?)" for c in CERTS]
    return "(" + " OR ".join(conds) + ")", [horizon] * len(CERTS)


def expired_sql(today: date, alias: str = "t") -> tuple[str, list[str]]:
    """Institutions with a certificate already expired (a subset of :func:`attention_sql`)."""
    conds = [f"({alias}.{c}_expiry IS NOT NULL AND {alias}.{c}_expiry < ?)" for c in CERTS]
    return "(" + " OR ".join(conds) + ")", [today.isoformat()] * len(CERTS)


def expiry_line(row: Mapping[str, Any], today: date, zh: bool = True, days: int = EXPIRING_DAYS) -> str:
    """``CMA 有效期 2026-01-31 已过期  CNAS 有效期 -``: both dates, labelled, with their marks."""
    parts = []
    for c in CERTS:
        st = cert_state(row.get(f"{c}_expiry"), today, days)
        d = _as_date(row.get(f"{c}_expiry"))
        mark = (STATE_ZH if zh else STATE_EN)[st] if st in (EXPIRING, EXPIRED) else ""
        label = f"{CERT_LABEL[c]} {'有效期' if zh else 'expires'}"
        parts.append(f"{label} {d.isoformat() if d else '-'}{' ' + mark if mark else ''}")
    return "  ".join(parts)


def refusal(state: str, elements: Iterable[str] | None) -> str:
    """Why a referral to an institution in ``state`` needs a reason ("English / 中文", the form
    ``i18n.err_text`` splits)."""
    need = "、".join(CERT_LABEL[c] for c in required(elements)) or "CMA"
    zh = STATE_ZH.get(state, state)
    return (
        f"the institution's {need} is {STATE_EN.get(state, state)}: give a reason to refer anyway / "
        f"该机构{need}资质{zh}, 不能承担检验检测; 如确需转办, 请填写理由"
    )
