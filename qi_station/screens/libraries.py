"""Libraries: experts, institutions, equipment, projects, enterprises. Search as you type (debounced,
exclusive thread worker), filters, a detail pane, and "refer the current request to this"."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from qi_station.core import domain, places, qualify
from qi_station.core.clock import today_local
from qi_station.i18n import (
    city_name,
    element_name,
    elements_text,
    err_text,
    fee_unit_name,
    get_lang,
    kind_name,
    referred_text,
    t,
)
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.cells import clip
from qi_station.screens.result_list import ResultList, SearchInput
from qi_station.screens.widgets import Chip, Choice

DEBOUNCE = 0.02  # coalesces key repeats and pastes; typing is slower than this
RESULTS = 50
DETAIL_WIDTH = 28  # the detail pane (libraries.tcss #lib-detail)
CITY_WIDTH = 4
ENT_OPEN_SHOWN = 5  # an enterprise's open requests listed in the detail pane (then "...")
REFER_KIND = {
    "experts": "expert",
    "institutions": "institution",
    "equipment": "equipment",
    "projects": "project",
}
DETAIL_FIELDS = {
    "experts": ("load", "title", "employer", "specialty", "gender", "phone", "email"),
    "institutions": (
        "short_name",
        "uscc",
        "cma_no",
        "cnas_no",
        "scope",
        "address",
        "contact",
        "phone",
    ),
    "equipment": ("model", "institution_name", "shared", "fee", "fee_unit", "description"),
    "projects": ("year", "lead", "status", "description"),
    "enterprises": ("uscc", "region_code", "industry", "scale", "contact_name", "phone_display"),
}


def cert_marks(r: dict[str, Any]) -> str:
    """The list's qualification column: each certificate that needs attention, labelled (``CMA已过期
    CNAS将到期``), else the CMA's expiry date (states by ``services.search``, the one rule)."""
    marks = [
        t("lib.cert_mark", cert=qualify.CERT_LABEL[c], state=t("qual." + r[c + "_state"]))
        for c in qualify.CERTS
        if r.get(c + "_state") in (qualify.EXPIRED, qualify.EXPIRING)
        or (c == "cma" and r.get(c + "_state") == qualify.MISSING)
    ]
    return " ".join(marks) if marks else f"CMA {r.get('cma_expiry') or '-'}"


def _extra(kind: str, r: dict[str, Any]) -> str:
    if kind == "experts":
        load = t("match.load", n=r.get("load", 0)) if r.get("load") else ""
        return " ".join(x for x in (load, r.get("title"), r.get("employer")) if x)
    if kind == "institutions":
        return cert_marks(r)
    if kind == "equipment":
        fee = f"{r['fee']}/{fee_unit_name(r.get('fee_unit') or 'hour')}" if r.get("fee") is not None else ""
        return f"{t('lib.shared') if r.get('shared') else t('lib.not_shared')} {fee}".strip()
    if kind == "projects":
        return " ".join(str(x) for x in (r.get("year"), r.get("status")) if x)
    return r.get("uscc") or ""


class SearchDone(Message):
    """One search's rows, for the parameters ``p`` it ran with, ranked for ``own_city``."""

    def __init__(self, p: dict[str, Any], rows: list[dict[str, Any]], own_city: str | None) -> None:
        super().__init__()
        self.p, self.rows, self.own_city = p, rows, own_city


class SearchFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class ReferChecked(Message):
    """The referral rules' answer for the item the operator wants to refer to."""

    def __init__(self, request_id: str, kind: str, item: dict[str, Any], check: dict[str, Any]) -> None:
        super().__init__()
        self.request_id, self.kind, self.item, self.check = request_id, kind, item, check


class Referred(Message):
    def __init__(self, message: str, failed: bool) -> None:
        super().__init__()
        self.message, self.failed = message, failed


def station_city(conn: Any) -> str | None:
    """The city of this station (from its region code): its library rows rank first."""
    from qi_station.services.queries import station

    row = station(conn)
    return places.city_of(row.get("region_code")) if row else None


class LibrariesScreen(MainScreen):
    SCREEN_KEY = "libraries"
    CSS_PATH = "libraries.tcss"
    BINDINGS = bindings("lib", "main")

    def __init__(self) -> None:
        super().__init__()
        self.kind = "experts"
        self.rows: list[dict[str, Any]] = []
        self._timer: Timer | None = None
        self._t0: float | None = None
        self._last_key = 0.0
        self.last_latency_ms: float | None = None
        self.searches = 0
        self.painted_at = 0.0  # perf_counter when the last results were painted (benchmarks read it)
        self.own_city: str | None = None  # the station's city: its library rows rank first
        self._own_city_known = False  # looked up once per refresh, on the search worker's connection
        self._cells: list[tuple[str, str, str]] | None = None  # what the table shows (show)
        self._count = ""  # what #lib-count says
        self._detail: str | None = None  # what the detail pane says

    def compose_body(self) -> ComposeResult:
        with Vertical(id="lib-top"):
            with Horizontal(classes="filter-row"):
                yield Choice([(k, kind_name(k)) for k in domain.SEARCH_KINDS], "experts", id="kind")
                yield SearchInput(id="q", placeholder=t("ph.library_search"), compact=True, max_length=100)
            with Horizontal(classes="filter-row"):
                yield Choice(
                    [("", t("filter.all_elements"))] + [(e, element_name(e)) for e in domain.ELEMENTS],
                    "",
                    id="f-element",
                )
                yield Choice(
                    [("", t("filter.all_cities"))] + [(c, city_name(c)) for c in places.CITIES],
                    "",
                    id="f-city",
                )
                yield Chip(t("filter.valid_only"), "valid", id="f-valid")
                yield Chip(t("filter.expiring_only"), "expiring", id="f-expiring")
                yield Chip(t("filter.shared_only"), "shared", id="f-shared")
                yield Static("", id="lib-count", markup=False)
        with Horizontal(id="lib-main"):
            yield ResultList(id="lib-table")
            with VerticalScroll(id="lib-detail"):
                yield Static(t("lib.pick"), id="lib-detail-text", markup=False)
        yield Static("", id="status-line", markup=False)

    def on_mount(self) -> None:
        name_w, info_w = self._widths(self.app.size.width)
        self.query_one(ResultList).set_columns(
            [(t("col.name"), name_w), (t("col.city"), CITY_WIDTH), (t("col.info"), info_w)]
        )
        self._kind_filters()
        self.query_one("#q", Input).focus()
        if self.station.ready:
            self.refresh_data()

    @staticmethod
    def _widths(total: int) -> tuple[int, int]:
        """(name, info) column widths for a terminal ``total`` cells wide: the detail pane and the city
        column are fixed, each column pads one cell either side, the scrollbar takes two. Name and info
        share the rest evenly (10 characters of a name; 工程师 烟台检测中心 whole), the info at least 16
        cells (a fee and its unit, a certificate's date)."""
        rest = max(40, total - DETAIL_WIDTH - CITY_WIDTH - 3 * 2 - 2)
        info = max(16, rest // 2)
        return rest - info, info

    def on_resize(self) -> None:
        name_w, info_w = self._widths(self.size.width)
        self.query_one(ResultList).set_widths([name_w, CITY_WIDTH, info_w])

    def on_screen_resume(self) -> None:
        self._apply_preset()
        self._update_status()
        self.refresh_bindings()  # the current request may have moved on since (回访: no 转办 now)
        super().on_screen_resume()

    def _refer_refused(self) -> Exception | None:
        """The core's refusal of a referral of the current request (``domain.check_refer``: resolved,
        closed, cancelled), by its status as last shown; None when it may be referred (or is not read)."""
        from qi_station.core.errors import ValidationError

        status = self.station.current_request_status
        if not self.station.current_request or status is None:
            return None
        try:
            domain.check_refer(status)
        except ValidationError as e:
            return e
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """转办至选中项 is offered only for a request the core would refer (hidden otherwise)."""
        if action == "refer" and self._refer_refused() is not None:
            return False
        return super().check_action(action, parameters)

    def on_key(self, event: Any) -> None:
        """The hidden 转办 key pressed anyway: say why with the core rule's own message."""
        refused = self._refer_refused()
        if refused is not None and event.key in self.station.keys_of("lib.refer"):
            from qi_station.i18n import err_text

            event.stop()
            event.prevent_default()
            self.notify(err_text(refused), severity="warning")

    def _apply_preset(self) -> None:
        """The dashboard's "资质将到期" card hands over a preset: institutions needing attention."""
        preset = self.station.library_preset
        if not preset:
            return
        self.station.library_preset = None
        self.query_one("#kind", Choice).value = preset.get("kind", self.kind)
        self.kind = preset.get("kind", self.kind)
        # the whole list the card counted: no search or filter left from before
        with self.prevent(Input.Changed, Choice.Changed):
            self.query_one("#q", Input).value = ""
            self.query_one("#f-element", Choice).value = ""
            self.query_one("#f-city", Choice).value = ""
        for chip in ("#f-valid", "#f-shared"):
            self.query_one(chip, Chip).set_quietly(False)
        self.query_one("#f-expiring", Chip).set_quietly(bool(preset.get("expiring")))
        self._kind_filters()
        if self.station.ready:
            self._schedule(0)

    def _valid_label(self) -> None:
        """The 资质有效 chip names what it checks for the chosen element (``qualify.required``, the one
        rule): "CMA有效" for 检验检测 or no element; 无须资质 for an element no licence is named for (计量:
        the filter keeps every institution, and says so instead of seeming to check a licence)."""
        element = self.query_one("#f-element", Choice).value or None
        certs = qualify.required([element] if element else None)
        label = (
            t("filter.valid_for", certs="、".join(qualify.CERT_LABEL[c] for c in certs))
            if certs
            else t("filter.valid_none")
        )
        self.query_one("#f-valid", Chip).set_label(label)

    def _kind_filters(self) -> None:
        self._valid_label()
        self.query_one("#f-valid").display = self.kind == "institutions"
        self.query_one("#f-expiring").display = self.kind == "institutions"
        self.query_one("#f-shared").display = self.kind == "equipment"
        self._update_status()

    def _update_status(self) -> None:
        if self.kind == "enterprises":  # the highlighted enterprise's 当前需求 (no referral from here)
            row = self.query_one(ResultList).cursor_row if self.rows else None
            self._ent_status(self.rows[row] if row is not None and row < len(self.rows) else None)
            return
        label = self.station.current_request_label
        refused = self._refer_refused()  # the footer's rule (check_action): no Ctrl+R offered then
        line = (
            (
                t("lib.current", request=label)
                if refused is None
                else t("lib.current_no_refer", request=label, reason=err_text(refused))
            )
            if label and self.kind in REFER_KIND
            else (t("lib.no_current") if self.kind in REFER_KIND else "")
        )
        self.query_one("#status-line", Static).update(line)

    # ---- search ----------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        self._own_city_known = False  # the station row may have changed (demo data, sync)
        self._schedule(0)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        params = self._params()
        if delay:
            self._timer = self.set_timer(delay, lambda: self._search(params))
        else:
            self._search(params)

    def _search(self, params: dict[str, Any]) -> None:
        self.search(self.station.reader, params, self.own_city, self._own_city_known)

    def _params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "query": self.query_one("#q", Input).value,
            "element": self.query_one("#f-element", Choice).value or None,
            "city": self.query_one("#f-city", Choice).value or None,
            "valid_only": self.query_one("#f-valid", Chip).checked,
            "expiring_only": self.query_one("#f-expiring", Chip).checked,
            "shared_only": self.query_one("#f-shared", Chip).checked,
        }

    def on_input_changed(self, event: Input.Changed) -> None:
        """Debounce with a leading edge: a key after a pause searches at once; a burst of keys (a paste,
        key repeat, fast typing) is coalesced into one search DEBOUNCE after the last of them."""
        event.stop()
        now = time.perf_counter()
        burst = now - self._last_key < DEBOUNCE
        self._last_key = now
        self._t0 = now
        self._schedule(DEBOUNCE if burst else 0)

    def on_choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        if event.choice.id == "kind":
            self.kind = event.value
            self._kind_filters()
        if event.choice.id == "f-element":
            self._valid_label()
        if self.is_mounted and self.station.ready:
            self._schedule(0)

    def on_chip_toggled(self, event: Chip.Toggled) -> None:
        event.stop()
        if self.station.ready:
            self._schedule(0)

    @work(thread=True, exclusive=True, group="search")
    def search(self, reader: Any, p: dict[str, Any], own_city: str | None, known: bool) -> None:
        """Search on the shared reader; the station's city is looked up (on the same connection) unless
        ``known`` (once per refresh)."""
        from qi_station.services.search import search

        try:
            with reader as conn:
                if not known:
                    own_city = station_city(conn)
                rows = search(
                    conn,
                    p["kind"],
                    p["query"],
                    element=p["element"],
                    city=p["city"],
                    valid_only=p["valid_only"],
                    expiring_only=p["expiring_only"],
                    shared_only=p["shared_only"],
                    own_city=own_city,
                    limit=RESULTS,
                )
                if p["kind"] == "enterprises" and rows:  # their 当前需求 (the open ones)
                    from qi_station.services.enterprises import open_requests

                    opens = open_requests(conn, [r["id"] for r in rows])
                    for r in rows:
                        r["open_requests"] = opens.get(r["id"], [])
        except Exception as e:  # noqa: BLE001
            self.post_message(SearchFailed(error_message(e)))
            return
        self.post_message(SearchDone(p, rows, own_city))

    @on(SearchFailed)
    def _failed(self, event: SearchFailed) -> None:
        self._count = event.message
        self.query_one("#lib-count", Static).update(event.message, layout=False)

    @on(SearchDone)
    def _search_done(self, event: SearchDone) -> None:
        self.own_city = event.own_city
        self._own_city_known = True
        self.show(event.p, event.rows)

    def show(self, p: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        if p != self._params():
            return  # a newer search is on its way
        self.rows = rows
        # the cells as plain text: a name is never Rich markup (``a[b]c`` stays itself, ``x[/]`` is no
        # error), and no markup parse per cell; 烟台: the column is narrow, the pane says 烟台市
        cells = [
            (r["name"], (r.get("city_name") or "").removesuffix("市"), _extra(p["kind"], r)) for r in rows
        ]
        table = self.query_one(ResultList)
        if cells != self._cells:  # the same rows again (no match, a filter that changed nothing): kept
            self._cells = cells
            table.set_rows(cells)  # only the lines in view are drawn, in the next frame
        elif rows and table.cursor_row:
            table.move_cursor(row=0)  # as new rows would: the detail below is row 0's
        more = "+" if len(rows) >= RESULTS else ""
        count = t("lib.count", n=f"{len(rows)}{more}")
        if count != self._count:  # one line of a fixed row (libraries.tcss): no new layout
            self._count = count
            self.query_one("#lib-count", Static).update(count, layout=False)
        if self._t0 is not None:
            self.last_latency_ms = (time.perf_counter() - self._t0) * 1000
            self._t0 = None
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it
        self.call_after_refresh(self._painted)
        # the detail pane after the results' frame: its new text re-lays out the screen (a few ms)
        self.call_after_refresh(self._show_cursor_detail)

    def _show_cursor_detail(self) -> None:
        self.show_detail(self.query_one(ResultList).cursor_row if self.rows else None)

    def _painted(self) -> None:
        self.painted_at = time.perf_counter()
        self.searches += 1

    def on_result_list_highlighted(self, event: ResultList.Highlighted) -> None:
        self.show_detail(event.index)

    def show_detail(self, idx: int | None) -> None:
        if idx is None or idx >= len(self.rows):
            self._set_detail(t("lib.none"))
            self._ent_status(None)
            return
        r = self.rows[idx]
        lines = [
            r["name"],
            f"{t('col.city')}: {city_name(r.get('city_code') or '')}",
            f"{t('field.elements')}: {elements_text(r.get('elements'))}",
        ]
        for f in DETAIL_FIELDS.get(r["kind"], ()):
            v = r.get(f)
            if v is None or v == "":
                continue
            if f == "shared":
                v = t("lib.shared") if v else t("lib.not_shared")
            if f == "region_code":
                v = city_name(str(v))
            if f == "fee_unit":
                v = fee_unit_name(str(v))
            lines.append(f"{t('lib.f.' + f)}: {v}")
        if r["kind"] == "institutions":  # both dates, labelled, with their marks (the one rule)
            lines[3:3] = qualify.expiry_line(r, today_local(), get_lang() != "en").split("  ")
        if r["kind"] == "enterprises":  # its open requests (the status line names them too)
            opens = r.get("open_requests") or []
            lines.append(t("lib.ent_open", n=len(opens)))
            lines += [f"  {number}" for number in opens[:ENT_OPEN_SHOWN]]
            if len(opens) > ENT_OPEN_SHOWN:
                lines.append("  ...")
        self._set_detail("\n".join(lines))
        self._ent_status(r if r["kind"] == "enterprises" else None)

    def _ent_status(self, r: dict[str, Any] | None) -> None:
        """The 企业 library's status line: the highlighted enterprise's 当前需求 (its open requests;
        the line was blank there, where the other libraries name the request being referred)."""
        if self.kind != "enterprises":
            return
        line = ""
        if r is not None:
            opens = r.get("open_requests") or []
            line = (
                t("lib.ent_current", n=len(opens), numbers="、".join(opens)) if opens else t("lib.ent_none")
            )
        self.query_one("#status-line", Static).update(clip(line, max(10, self.size.width - 2)))

    def _set_detail(self, text: str) -> None:
        if text != self._detail:  # the same item again: no new paint nor layout
            self._detail = text
            self.query_one("#lib-detail-text", Static).update(text)

    # ---- actions ---------------------------------------------------------------------------------
    def action_next_kind(self) -> None:
        self.query_one("#kind", Choice).action_step(1, cycle_only=True)  # 换库 goes round (the arrows stop)
        box = self.query_one("#q", SearchInput)
        if box.has_focus:  # another library: the old search is selected, typing replaces it
            box.take()

    def action_focus_search(self) -> None:
        self.query_one("#q", SearchInput).take()

    def on_input_submitted(self) -> None:
        self.query_one(ResultList).focus()

    def action_refer(self) -> None:
        if self.kind not in REFER_KIND:
            self.notify(t("lib.not_referable"), severity="warning")
            return
        req = self.station.current_request
        if not req:
            self.notify(t("lib.no_current"), severity="warning")
            return
        table = self.query_one(ResultList)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            self.notify(t("lib.pick"), severity="warning")
            return
        item = self.rows[table.cursor_row]
        self.precheck(self.station.db_path, req, REFER_KIND[self.kind], item)

    @work(thread=True, exclusive=True, group="refer")
    def precheck(self, db_path: Path, request_id: str, kind: str, item: dict[str, Any]) -> None:
        """Ask the referral rules first (duplicate? qualified?), then confirm in a dialog."""
        from qi_station.services.referral import precheck

        try:
            check = precheck(db_path, request_id, kind, item["id"])
        except Exception as e:  # noqa: BLE001
            self.post_message(Referred(error_message(e), True))
            return
        self.post_message(ReferChecked(request_id, kind, item, check))

    @on(Referred)
    def _referred(self, event: Referred) -> None:
        self.notify(event.message, severity="error" if event.failed else "information")

    @on(ReferChecked)
    def _checked(self, event: ReferChecked) -> None:
        from qi_station.i18n import err_text
        from qi_station.screens.refer_confirm import ReferConfirmDialog

        if event.check["duplicate"]:
            self.notify(err_text(Exception(event.check["message"])), severity="warning")
            return
        label = self.station.current_request_label or event.request_id

        def done(row: Any) -> None:
            if row:
                self.notify(referred_text(row))
                self.refresh_data()

        self.app.push_screen(
            ReferConfirmDialog(event.request_id, label, event.kind, event.item, event.check), done
        )
