"""One enterprise (企业): its names over time, contacts, requests (Enter opens one) and referrals.
Reached from the request detail (E) and from the request form (Ctrl+E). The requests and referrals
are read a page at a time (:mod:`qi_station.services.enterprises`); ``]`` loads the next page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from qi_station.i18n import contact_text, kind_name, status_name, t
from qi_station.screens.base import StationScreen, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.footer import StationFooter

PAGE = 50


class EnterpriseLoaded(Message):
    def __init__(
        self,
        ent: dict[str, Any] | None,
        requests: list[dict[str, Any]],
        referrals: list[dict[str, Any]],
        error: str = "",
        gen: int = 0,
    ) -> None:
        super().__init__()
        self.ent, self.requests, self.referrals, self.error = ent, requests, referrals, error
        self.gen = gen  # the load it answers: an answer to an older reload is dropped


def _day(v: Any) -> str:
    from qi_station.core.clock import iso_local

    return str(iso_local(v) or "")[:10]


class EnterpriseScreen(StationScreen):
    CSS_PATH = "enterprise.tcss"
    BINDINGS = bindings("ent")
    SCREEN_KEY = "enterprise"  # its title (on resume too): 操作员 … > 企业

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.ent: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        self.referrals: list[dict[str, Any]] = []
        self._gen = 0

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="titlebar", markup=False)
        with VerticalScroll(id="enterprise"):
            yield Static(t("msg.loading"), id="ent-head", markup=False)
            yield Static("", id="ent-requests-title", classes="panel-title", markup=False)
            yield DataTable(id="ent-requests", cursor_type="row", zebra_stripes=False)
            yield Static("", id="ent-referrals", markup=False)
        yield StationFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#ent-requests", DataTable)
        table.add_columns(t("field.number"), t("field.received_at"), t("field.status"), t("field.title"))
        self.refresh_data()

    def refresh_data(self) -> None:
        self._gen += 1
        self.requests, self.referrals = [], []
        self.query_one("#ent-requests", DataTable).clear()
        self.load(self.station.db_path, self.key, 0, 0, self._gen)

    @work(thread=True, exclusive=True, group="enterprise")
    def load(self, db_path: Path, key: str, req_offset: int, ref_offset: int, gen: int) -> None:
        from qi_station.services import enterprises

        try:
            ent = enterprises.get_enterprise(db_path, key)
            reqs = enterprises.requests_of(db_path, ent["id"], offset=req_offset, limit=PAGE)
            refs = enterprises.referrals_of(db_path, ent["id"], offset=ref_offset, limit=PAGE)
        except Exception as e:  # noqa: BLE001 - shown on the screen
            self.post_message(EnterpriseLoaded(None, [], [], error_message(e), gen))
            return
        self.post_message(EnterpriseLoaded(ent, reqs, refs, gen=gen))

    @on(EnterpriseLoaded)
    def _loaded(self, event: EnterpriseLoaded) -> None:
        if event.gen != self._gen:
            return
        head = self.query_one("#ent-head", Static)
        if event.ent is None:
            head.update(event.error)
            return
        e = self.ent = event.ent
        lines = [f"{e['name']}  {e['uscc']}  {e.get('city_name') or ''}", "", t("ent.names")]
        for n in e["names"]:
            until = t("ent.until", date=_day(n["until"])) if n["until"] else t("ent.current")
            lines.append(f"  {n['name']}  ({until})")
        lines += ["", t("ent.contacts")]
        lines += [f"  {contact_text(c['name'], c['phone'])}" for c in e["contacts"]] or [f"  {t('ent.none')}"]
        head.update("\n".join(lines))
        have = {r["id"] for r in self.requests}
        fresh = [r for r in event.requests if r["id"] not in have]  # "]" twice: one page once
        self.requests += fresh
        seen = {f["id"] for f in self.referrals}
        self.referrals += [f for f in event.referrals if f["id"] not in seen]
        if len(self.requests) < e["requests"]:  # a page of them: how many shown of the core's count
            title = t("ent.requests_shown", shown=len(self.requests), n=e["requests"]) + f"   {t('ent.more')}"
        else:
            title = t("ent.requests", n=e["requests"])
        self.query_one("#ent-requests-title", Static).update(title)
        table = self.query_one("#ent-requests", DataTable)
        for r in fresh:
            table.add_row(
                r["number"], _day(r["received_at"]), status_name(r["status"]), r["title"], key=r["id"]
            )
        refs = [t("ent.referrals", n=e["referrals"])]
        refs += [f"  {f['number']}  {kind_name(f['kind'])}  {f['item_name']}" for f in self.referrals]
        self.query_one("#ent-referrals", Static).update("\n".join(refs))
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.station.open_request(str(event.row_key.value))

    def _has_more(self) -> bool:
        e = self.ent
        return e is not None and (len(self.requests) < e["requests"] or len(self.referrals) < e["referrals"])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "more":  # the footer offers ] 更多 only while something is not shown yet
            return self._has_more()
        return True

    def action_more(self) -> None:
        if self._has_more():
            self.load(self.station.db_path, self.key, len(self.requests), len(self.referrals), self._gen)

    def action_back(self) -> None:
        self.dismiss(None)
