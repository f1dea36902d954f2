"""The station's own rules, applied by the hub to every row a station sends (HTTP push and up bundles
both go through :meth:`PushJobs.apply_push`, which calls this module and nothing else for row rules).

Every rule is the core's (``core.validate``, ``core.domain``, ``core.clock``), or the one phone rule
(``services.phones.normalize_phone``, a third-party library's, so outside the core): this module only
says which rule guards which column. A broken rule refuses the whole batch with a 422 that names the
change (``oseq``), the table, the field and the rule, and never echoes the value.

Seam for the event chain (issue 11): each event's hash and link are checked by the chain checks on the
push path, not here; :func:`check_row` checks an event's columns only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from qi_station.core import domain, places
from qi_station.core import validate as v
from qi_station.core.activity import check_activity
from qi_station.core.chain import HUB_FOLD_FIELDS
from qi_station.core.clock import CLOCK_GAP, MAX_YEAR, MIN_YEAR, check_not_ahead, check_year, env_now
from qi_station.core.errors import ValidationError
from qi_station.core.rectify import RECTIFY_KIND, check_rectify_target, rectify_data_of
from qi_station.services.phones import normalize_phone
from qi_station.sync.proto import HUB_REQUEST_FIELDS, LIBRARY_TABLES, SyncError

# column -> (core.validate.LIMITS key, multiline, required): the same clean_text the station applies
TEXT: dict[str, dict[str, tuple[str, bool, bool]]] = {
    "enterprise": {
        "name": ("enterprise", False, True),
        "industry": ("industry", False, False),
        "contact_name": ("contact", False, False),
    },
    "request": {
        "title": ("title", False, True),
        "description": ("description", True, False),
        "sub_type": ("sub_type", False, False),
        "operator": ("operator", False, False),
        "contact_name": ("contact", False, False),
        "result": ("result", True, False),
        "followup_note": ("followup", True, False),
    },
    "request_event": {"actor": ("operator", False, True), "note": ("note", True, False)},
    "activity": {
        "title": ("title", False, True),
        "note": ("note", True, False),
        "actor": ("operator", False, True),
    },
    "referral": {
        "item_name": ("name", False, True),
        "note": ("note", True, False),
        "actor": ("operator", False, True),
    },
}
# multi-line text the ledger's evidence covers: an event's note is hashed into its chain, a request's
# result and follow-up note must equal the fold of its (hashed) events (``services.verify``). Kept as the
# station sent it (normalised, the chain and ``hub verify`` would break); every other multi-line text is
# stored in the core's form (:func:`check_row`)
EVIDENCE = frozenset({("request_event", "note"), ("request", "result"), ("request", "followup_note")})
# every other text column (ids, hashes, phone, pinyin, search text, event data): a plain length cap, the
# core's (a station keeps its rows within it)
OTHER_TEXT_MAX = v.OTHER_TEXT_MAX
LONG_TEXT_MAX = v.LONG_TEXT_MAX
# a hub event carries the hub's note (written at the hub, not by the station's form)
HUB_EVENT_NOTE_MAX = 20000


_NO_TEXT: dict[str, tuple[str, bool, bool]] = {}
# values the core's check_choice takes as they are (a code of the list; None where the column may be
# empty): only any other value goes through the rule itself (which also takes a label, or refuses)
_STATUS_OR_NONE = frozenset((*domain.STATUSES, None))
_CODES = {
    col: frozenset(choices) for col, choices in (("channel", domain.CHANNELS), ("urgency", domain.URGENCIES))
}
_STATUS_CODES = frozenset(domain.STATUSES)
_PLAIN = frozenset({int, bool, float, type(None)})  # values no row rule of check_row's loop looks at
# texts that passed ``clean_text`` under (key, multiline, required): the rule is a pure function of these
_CLEAN_OK: set[tuple[str, str, bool, bool]] = set()

Text = str | Callable[[], str]  # what a refusal says the rule is (built only when refusing)


def refusal(oseq: Any, table: str, field: str, rule: str, what: Text) -> SyncError:
    what = what() if callable(what) else what
    return SyncError(
        422,
        "rule",
        f"refused, nothing written: change {oseq} ({table}.{field}) breaks rule {rule!r}: {what} / 数据不符合规则",
        oseq=oseq,
        table=table,
        field=field,
        rule=rule,
    )


def _core(oseq: Any, table: str, field: str, check: Callable[[], Any], what: Text) -> Any:
    """Run a core check; its ValidationError becomes a refusal naming the change (the core's message
    may quote the value, so only its rule name is passed on)."""
    try:
        return check()
    except ValidationError as e:
        raise refusal(oseq, table, field, e.rule, what) from None


# values that passed a pure core rule, by (rule, the value's type, the value): the same value is not
# checked again (satisfactions, counts, amounts and element lists repeat); bounded like _CLEAN_OK
_PASSED: set[tuple[str, type, Any]] = set()
_PASSED_MAX = 50_000


def _remember(key: tuple[str, type, Any]) -> None:
    """Note that ``key``'s value passed its rule (up to :data:`_PASSED_MAX` values)."""
    if len(_PASSED) < _PASSED_MAX:
        _PASSED.add(key)


def _core_once(oseq: Any, table: str, field: str, value: Any, check: Callable[[], Any], what: Text) -> None:
    """:func:`_core` of a pure rule of ``value`` alone (hashable), skipped for a value that passed it."""
    key = (f"{table}.{field}", type(value), value)
    if key in _PASSED:
        return
    _core(oseq, table, field, check, what)
    _remember(key)


def _elements(oseq: Any, table: str, text: Any, *, required: bool) -> None:
    key = (f"{table}.elements.{required}", type(text), text)
    if type(text) is str and key in _PASSED:
        return  # the same list passed this rule before

    def what() -> str:
        return f"a JSON array of element codes ({', '.join(domain.ELEMENTS)})"

    try:
        items = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise refusal(oseq, table, "elements", "element", what)
    if not items and not required:
        return
    codes = _core(oseq, table, "elements", lambda: v.parse_elements(items), what)
    if codes != items:  # stored as codes, each once: a name or a duplicate is not the station's form
        raise refusal(oseq, table, "elements", "element", what)
    if type(text) is str:
        _remember(key)


def _text_rule(key: str) -> str:
    return f"text of at most {v.LIMITS.get(key, 200)} characters, no control characters"


def _ahead_rule() -> str:
    return (
        f"a time at most {CLOCK_GAP.days} day ahead of the hub's clock, while this PC's clock runs ahead "
        "(set the right date and time, then sync again: what was stamped ahead is then taken as this PC "
        "recorded it and flagged for the hub's administrator; nothing was written) / 本机时钟超前：请校正"
        "本机日期时间后重新同步；按超前时间记录的变更届时按原样上传，并标记供中心管理员核查"
    )


#: the ``sync_conflict`` kind of a row the hub took although it was stamped ahead of the hub's clock (the
#: station's clock had been set right by then: :func:`clock_ok`); its detail names the columns
CLOCK_AHEAD_KIND = "clock_ahead"


def clock_ok(skew_ms: int | None) -> bool:
    """THE rule of when a row stamped ahead of the hub's clock is taken (as recorded, flagged
    :data:`CLOCK_AHEAD_KIND`) rather than refused: the station's clock as it reads now (``skew_ms``:
    ``station_now - hub_now`` of this push or bundle, ``HubBase.skew_of``) is not ahead of the hub's by
    more than ``core.clock.CLOCK_GAP``. A station whose clock still runs ahead is refused, so it is told
    to set it before it stamps more; once it is set right, what it already stamped (sealed in its ledger)
    is taken as it is, never re-dated, and the flag tells the hub's administrator."""
    return skew_ms is not None and skew_ms <= CLOCK_GAP.total_seconds() * 1000


def check_row(
    oseq: Any, table: str, row: dict[str, Any], code: str, stamped_ahead: list[str] | None = None
) -> None:
    """The rules one row must keep on its own (before it is compared with what the hub holds). A text
    column (:data:`TEXT`) keeps the core's text rule (``core.validate.clean_text``, said naming the
    column); a multi-line one not in :data:`EVIDENCE` is stored in that rule's form, in place (an old
    station's CRLF, U+2028 or U+2029 a newline, as a station stores text now). ``stamped_ahead``: a list
    when the station's clock is right now (:func:`clock_ok`): a time ahead of the hub's clock is then
    taken and its column added to the list (the caller flags it), not refused."""
    texts = TEXT.get(table, _NO_TEXT)
    now: datetime | None = None  # the hub's clock, read once, when a time is met
    ahead = datetime.max  # the latest time a station may stamp: not ahead of the hub's clock
    for col, val in row.items():
        tv = type(val)
        if tv is str:  # every cap is at least OTHER_TEXT_MAX: a shorter text needs no look-up
            if len(val) > OTHER_TEXT_MAX and col not in texts:
                cap = LONG_TEXT_MAX.get(col, OTHER_TEXT_MAX)
                if table == "request_event" and col == "note":
                    cap = HUB_EVENT_NOTE_MAX
                if len(val) > cap:
                    raise refusal(oseq, table, col, "max_length", f"at most {cap} characters")
        elif tv in _PLAIN:
            continue
        elif isinstance(val, datetime | date):
            if not MIN_YEAR <= val.year <= MAX_YEAR:  # the core's rule (check_year), said by it
                _core(oseq, table, col, partial(check_year, val, col), "a time in range")
            if isinstance(val, datetime):  # a time the station's clock stamped (a date is a day)
                if now is None:
                    now = env_now()
                    ahead = now + CLOCK_GAP
                if val > ahead:  # the core's rule decides (check_not_ahead), said by it
                    if stamped_ahead is not None:
                        stamped_ahead.append(col)
                        continue
                    _core(oseq, table, col, partial(check_not_ahead, val, col, now), _ahead_rule)
        elif isinstance(val, str) and col not in texts:
            cap = LONG_TEXT_MAX.get(col, OTHER_TEXT_MAX)
            if table == "request_event" and col == "note":
                cap = HUB_EVENT_NOTE_MAX
            if len(val) > cap:
                raise refusal(oseq, table, col, "max_length", f"at most {cap} characters")
    for col, (key, multiline, required) in texts.items():
        if table == "request_event" and col == "note" and row.get("kind") == "hub":
            continue  # the hub's own note, capped above
        val = row.get(col)
        if val is None and not required:
            continue
        if type(val) is str and (val, key, multiline, required) in _CLEAN_OK:
            continue  # the same text passed this rule before (actors, titles and notes repeat)
        cleaned = _core(
            oseq,
            table,
            col,
            partial(v.clean_text, val, key, required=required, multiline=multiline),
            partial(_text_rule, key),
        )
        if cleaned != val:
            if multiline and val is not None and (table, col) not in EVIDENCE:
                row[col] = cleaned  # the core's form, as the station stores it now
            continue  # not cached: the next such text is cleaned again
        if type(val) is str and len(val) <= 200 and len(_CLEAN_OK) < 50_000:
            _CLEAN_OK.add((val, key, multiline, required))
    if table == "enterprise":
        _check_enterprise(oseq, row)
    elif table == "request":
        _check_request(oseq, row, code)
    elif table == "request_event":
        for col in ("from_status", "to_status"):
            if row.get(col) not in _STATUS_OR_NONE:  # a code passes the core's rule: no call for it
                _core(
                    oseq,
                    table,
                    col,
                    partial(v.check_choice, row[col], domain.STATUSES, col),
                    "a known status",
                )
        if not isinstance(row.get("n"), int) or row["n"] < 1:
            raise refusal(oseq, table, "n", "range", "the event's number in its request, from 1")
        text = row.get("data") or "{}"
        try:
            data = {} if text == "{}" else json.loads(text)  # most events carry no data
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise refusal(oseq, table, "data", "json_object", "a JSON object")
        if row.get("kind") == "correct":
            _core(
                oseq,
                table,
                "data",
                partial(
                    v.check_correct_event, row.get("from_status"), row.get("to_status"), row.get("note"), data
                ),
                "a correction: a correctable field, a valid new value, a reason, the status kept",
            )
        if row.get("kind") == RECTIFY_KIND:  # a rectify record: the core's rule, on its data and status
            _core(oseq, table, "data", lambda: rectify_data_of(data), "what was done and by whom")
            if row.get("to_status") != "closed":
                raise refusal(oseq, table, "to_status", "low_rating", "a rectify record on a closed request")
        # the hash and the link to the previous event: the chain checks (issue 11), not this module
    elif table == "activity":
        try:
            check_activity(row, new=False)  # a station's row, dated by its clock
        except ValidationError as e:  # names the field the core named; never echoes the value
            raise refusal(
                oseq, table, e.field, e.rule, "an activity: kind, date, counts ≥ 0, title"
            ) from None
    elif table == "referral":
        _core(
            oseq,
            table,
            "kind",
            lambda: v.check_choice(str(row.get("kind")), LIBRARY_TABLES, "kind"),
            "a library table (expert, institution, equipment, project)",
        )


def _check_enterprise(oseq: Any, row: dict[str, Any]) -> None:
    t = "enterprise"
    uscc = row.get("uscc")
    got = _core(oseq, t, "uscc", lambda: v.validate_uscc(str(uscc or "")), "a valid USCC")
    if got != uscc:
        raise refusal(oseq, t, "uscc", "uscc_form", "the USCC in its normalised form")
    _check_phone(oseq, row)
    if row.get("scale") is not None:
        _core(
            oseq,
            t,
            "scale",
            lambda: v.check_choice(row["scale"], domain.ENTERPRISE_SCALES, "scale"),
            "an enterprise scale",
        )
    if "elements" in row:
        _elements(oseq, t, row["elements"], required=False)
    if row.get("former_names") is not None:  # a rename travels with the row (revision 0006)
        _core(
            oseq,
            t,
            "former_names",
            lambda: v.check_former_names(row["former_names"]),
            "a JSON array of {name, until, by}, each name an enterprise name",
        )
    if "county_code" in row:  # a station of revision 0008 or later: the location and its city
        county = row["county_code"]
        if county is not None:
            _core(oseq, t, "county_code", lambda: v.check_county(str(county)), "a current Shandong county")
        if row.get("city_code") != places.location(county, row.get("region_code"))[1]:
            raise refusal(
                oseq, t, "city_code", "location_city", "the current city of the enterprise's location"
            )


def _check_phone(oseq: Any, row: dict[str, Any]) -> None:
    """An enterprise's phone: ``phone_e164`` is a number the phone rule takes, in the E.164 form it
    gives (``services.phones.normalize_phone``); ``phone_display`` keeps the text rule (no control
    characters, a length cap: ``core.validate.clean_text``), as the station's form writes them."""
    t = "enterprise"
    e164, display = row.get("phone_e164"), row.get("phone_display")
    if e164 is not None:
        what = "a valid phone number in its E.164 form (+86…)"
        if not isinstance(e164, str):
            raise refusal(oseq, t, "phone_e164", "phone", what)
        key = ("enterprise.phone_e164", str, e164)
        if key not in _PASSED:
            got = _core(oseq, t, "phone_e164", lambda: normalize_phone(e164, "phone_e164"), what)
            if got is None or got[0] != e164:
                raise refusal(oseq, t, "phone_e164", "phone_form", what)
            _remember(key)
    if display is not None:
        if not isinstance(display, str):
            raise refusal(oseq, t, "phone_display", "text", partial(_text_rule, "phone"))
        _core(oseq, t, "phone_display", partial(v.clean_text, display, "phone"), partial(_text_rule, "phone"))


def _check_request(oseq: Any, row: dict[str, Any], code: str) -> None:
    t = "request"
    number = row.get("number")
    if not isinstance(number, str) or not number.startswith(code + "-"):
        raise refusal(oseq, t, "number", "own_number", f"a number of this station ({code}-YYYYMM-NNNN)")
    if row.get("status") not in _STATUS_CODES:
        _core(
            oseq,
            t,
            "status",
            lambda: v.check_choice(str(row.get("status")), domain.STATUSES, "status"),
            "a known status",
        )
    for col, choices in (("channel", domain.CHANNELS), ("urgency", domain.URGENCIES)):
        if col in row and row[col] not in _CODES[col]:
            _core(
                oseq,
                t,
                col,
                partial(v.check_choice, str(row[col]), choices, col),
                f"one of {', '.join(choices)}",
            )
    _elements(oseq, t, row.get("elements"), required=True)
    cents = row.get("cost_saved_cents")
    if cents is not None:
        _core_once(
            oseq,
            t,
            "cost_saved_cents",
            cents,
            lambda: v.parse_cost(Decimal(cents) / 100),
            "≥ 0 and not too large",
        )
    solved = row.get("problems_solved")
    if solved is not None:
        _core_once(
            oseq,
            t,
            "problems_solved",
            solved,
            lambda: v.parse_non_negative_int(solved, "problems_solved"),
            "a whole number ≥ 0",
        )
    sat = row.get("satisfaction")
    if sat is not None:
        _core_once(oseq, t, "satisfaction", sat, lambda: v.parse_satisfaction(sat), "1..5")


def check_numbers_free(final: dict[str, tuple[str, Any]], held: dict[str, str]) -> None:
    """A request's number names one request (the station's ``request.number`` is unique). ``final``:
    each request id of the batch -> (its number once the batch is applied, the oseq of the change that
    gives it; stale changes are not in it); ``held``: number -> request id, what the hub holds under the
    batch's numbers. A request whose number another request keeps after the batch (the hub's, or an
    earlier one of this batch) is refused ``unique_number`` — a station put back from an older copy that
    numbered a new request again, or a copied database — instead of the database's raw constraint
    error. A number a request of this batch moves away from is free (a renumbered request)."""
    after = {num: rid for num, rid in held.items() if rid not in final}
    for rid, (number, oseq) in sorted(final.items(), key=lambda kv: kv[1][1]):
        other = after.get(number)
        if other is not None and other != rid:
            raise refusal(
                oseq,
                "request",
                "number",
                "unique_number",
                f"a request number not used by another request (request {other} has it; a station "
                "put back from an older copy must catch up from the hub first: qi-station restore)",
            )
        after[number] = rid


def check_rectify_event(oseq: Any, request: tuple[Any, Any] | None) -> None:
    """A ``rectify`` event against its request as the hub holds it after this batch (``request``: status,
    satisfaction): the core's rule, a closed request rated 1 or 2 (``core.rectify.check_rectify_target``)."""
    status, sat = request if request is not None else (None, None)
    _core(
        oseq,
        "request_event",
        "kind",
        lambda: check_rectify_target(status, sat),
        "a rectify record on a closed request rated 1 or 2",
    )


#: the rule a pushed request row breaks when it is not what its own events give
FOLD_RULE = "ledger_fold"
#: ... when a column its created event fixed (``core.chain.CREATED_FIELDS``) is not what that event says
CREATED_RULE = "ledger_created"
#: ... when its number's month is not its receipt month (``core.ids.number_month``)
NUMBER_RULE = "number_month"


_ROW_READ: list[Callable[[dict[str, Any]], tuple[Any, ...]]] = []


def _row_read() -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A request row's :data:`~qi_station.services.verify.ROW_READ` values (made on first use: the
    services are imported late here)."""
    if not _ROW_READ:
        from qi_station.services.verify import ROW_READ
        from qi_station.sync.hub.tables import picker

        _ROW_READ.append(picker(ROW_READ))
    return _ROW_READ[0]


def check_request_fold(oseq: Any, row: dict[str, Any], events: list[tuple[Any, ...]]) -> None:
    """A pushed request row against its own event chain (``events``: the events the hub holds and those
    of the batch before this row, as :data:`~qi_station.services.verify.EVENT_READ` tuples of the
    values as held, ordered by n): every column the station's events decide
    (:data:`~qi_station.core.chain.FOLD_FIELDS`: status, outcome, follow-up) and ``s_rev`` must be what
    THE fold gives (``services.verify.fold_differences``, the comparison ``hub verify`` makes). A chain
    that does not start at event 1 or has a hole (a request loaded on the station outside the ledger,
    taken as it is by ``ledger.check_events``) cannot be folded and is not compared."""
    from qi_station.services.verify import comparable, created_differences, fold_differences

    got = _row_read()(row)
    fixed = created_differences(got, events)  # what its created event fixed; its number's month
    if fixed:
        field, _have, said = fixed[0]

        def fixed_rule() -> str:
            if field == "number":
                return f"{said} (the number's YYYYMM is the request's receipt month)"
            return (
                f"{said!r}, what the request's created event recorded (no event of request "
                f"{row.get('number')} changes its {field}; every change travels as an event of its ledger)"
            )

        raise refusal(oseq, "request", field, NUMBER_RULE if field == "number" else CREATED_RULE, fixed_rule)
    if not events or events[-1][1] != len(events) or events[0][1] != 1:
        return
    diffs = fold_differences(got, events)  # as held (times both datetimes): most rows agree here
    if diffs:  # compared as ``hub verify`` compares (a time as text, a bool as 0/1)
        diffs = fold_differences(
            tuple(comparable(x) for x in got), [tuple(comparable(x) for x in e) for e in events]
        )
    diffs = [d for d in diffs if d[0] not in HUB_FOLD_FIELDS]  # never taken from a station: not refused
    if not diffs:
        return
    field = diffs[0][0]

    def what() -> str:
        if field == "s_rev":
            return "the number of the request's events that changed it (an event is missing)"
        return (
            f"the value its own events give (no event of request {row.get('number')} sets this "
            f"{field}; every change of a request travels as an event of its ledger)"
        )

    raise refusal(oseq, "request", field, FOLD_RULE, what)


#: a revision above this is no revision (the hub sets one above an echo: it must fit a 32-bit column)
MAX_REV = 2**31 - 2


def check_request_change(
    oseq: Any,
    row: dict[str, Any],
    stored: tuple[str, int, int, str] | None,
    enterprise_station: str | None,
    code: str,
) -> None:
    """A request row against what the hub holds (``stored``: station, s_rev, h_rev, status; None for a
    new row) and the station of the enterprise it names."""
    t = "request"
    if enterprise_station != code:
        raise refusal(oseq, t, "enterprise_id", "own_enterprise", "an enterprise this station registered")
    h_rev = row.get("h_rev") or 0
    if not isinstance(h_rev, int) or isinstance(h_rev, bool) or not 0 <= h_rev < MAX_REV:
        raise refusal(
            oseq,
            t,
            "h_rev",
            "range",
            f"a revision, a whole number from 0 to {MAX_REV - 1} (the station sent {h_rev!r})",
        )
    if stored is None:
        # hub-only fields are never taken from a station: a new row's are dropped by the apply
        # (:func:`hub_echo`), not refused (a hub restored from an older copy gets them back from the
        # station that saw them)
        return
    status = row.get("status")
    if int(row.get("s_rev") or 0) <= stored[1]:
        return  # stale: the hub holds a newer revision and keeps it (not applied)
    if int(row.get("h_rev") or 0) < stored[2]:
        return  # the station had not seen the hub's last change: a recorded conflict, not a refusal
    if isinstance(status, str) and not domain.can_reach(stored[3], status):
        raise refusal(oseq, t, "status", "lifecycle", f"a status the lifecycle allows after {stored[3]!r}")


def hub_echo(row: dict[str, Any], hub_h_rev: int | None) -> tuple[int, dict[str, Any]] | None:
    """A station's request row that carries hub changes the hub does not hold: its ``h_rev`` is above
    the hub's (``hub_h_rev``; None: the hub has no such request) or, for a request new to the hub, it
    carries hub fields. That is the station's echo of what the hub once set and then lost (the hub was
    restored from an older copy), or a forgery: hub fields are never taken from a station. Returns
    (the hub's new ``h_rev``: one above the echo, so the station takes the hub's own fields back on its
    next pull, the echoed hub fields for the conflict record), or None when the row echoes nothing."""
    echo = int(row.get("h_rev") or 0)
    lost = {f: row[f] for f in HUB_REQUEST_FIELDS if row.get(f) is not None}
    if echo > (hub_h_rev or 0) or (hub_h_rev is None and lost):
        return echo + 1, lost
    return None
