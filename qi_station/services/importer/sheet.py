"""Reading a station's own spreadsheet ledger: the file (``.xlsx`` read-only with openpyxl, or CSV in
UTF-8 with or without a BOM, UTF-16, or GBK/GB18030 as Excel on Chinese Windows writes it), its header
row and the mapping of its column headers to request fields (:data:`DEFAULT_MAPPING`, overridden
by a ``--mapping`` file in TOML or JSON)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qi_station.core.errors import ValidationError

#: the request fields a column can fill ("-": a known column that is not imported)
FIELDS = (
    "enterprise",
    "uscc",
    "contact",
    "phone",
    "industry",
    "elements",
    "title",
    "description",
    "sub_type",
    "channel",
    "urgency",
    "received_at",
    "promised",
    "resolved_at",
    "result",
    "problems_solved",
    "cost_saved",
    "fee",
    "closed_at",
    "satisfaction",
    "followup_note",
    "operator",
    "note",
    "-",
)

#: the default mapping: a column header (spaces, brackets and a trailing ``*`` / ``：`` ignored) -> field
DEFAULT_MAPPING: dict[str, str] = {
    **dict.fromkeys(("企业名称", "企业", "单位名称", "企业(单位)名称", "服务对象", "申请单位"), "enterprise"),
    **dict.fromkeys(("统一社会信用代码", "社会信用代码", "信用代码", "USCC"), "uscc"),
    **dict.fromkeys(("联系人", "企业联系人", "联系人姓名"), "contact"),
    **dict.fromkeys(("联系电话", "电话", "手机", "手机号", "联系方式"), "phone"),
    **dict.fromkeys(("所属行业", "行业"), "industry"),
    **dict.fromkeys(("服务类型", "需求类别", "服务要素", "需求类型", "服务类别", "要素"), "elements"),
    **dict.fromkeys(("需求标题", "标题", "需求事项", "服务事项", "需求名称", "事项"), "title"),
    **dict.fromkeys(("需求描述", "需求内容", "问题描述", "具体需求", "需求详情"), "description"),
    **dict.fromkeys(("服务子类", "需求子类", "子类"), "sub_type"),
    **dict.fromkeys(("渠道", "受理渠道", "需求来源", "来源渠道"), "channel"),
    **dict.fromkeys(("紧急程度", "缓急程度"), "urgency"),
    **dict.fromkeys(("受理日期", "登记日期", "受理时间", "登记时间", "接收日期"), "received_at"),
    **dict.fromkeys(("承诺办结日期", "承诺日期", "承诺办结时间", "承诺完成日期"), "promised"),
    **dict.fromkeys(("办结日期", "办结时间", "完成日期", "实际办结日期"), "resolved_at"),
    **dict.fromkeys(("办理结果", "处理结果", "办结情况", "服务结果"), "result"),
    **dict.fromkeys(("解决问题数", "解决问题(个)", "解决问题"), "problems_solved"),
    **dict.fromkeys(("节约成本(万元)", "节约成本", "节约费用(万元)"), "cost_saved"),
    **dict.fromkeys(("收费金额(元)", "收费金额", "收费(元)", "服务收费(元)"), "fee"),
    **dict.fromkeys(("回访日期", "回访时间"), "closed_at"),
    **dict.fromkeys(("满意度", "满意度评价", "回访评价", "评价"), "satisfaction"),
    **dict.fromkeys(("回访情况", "回访记录", "回访意见"), "followup_note"),
    **dict.fromkeys(("经办人", "受理人", "登记人"), "operator"),
    **dict.fromkeys(("备注",), "note"),
    **dict.fromkeys(("序号", "编号", "台账编号"), "-"),
}

#: how many leading rows may come before the header row (a title row, a date line …)
HEADER_SEARCH = 10


def norm_header(text: object) -> str:
    """A header as compared: no spaces, half-width brackets, no trailing ``*`` / ``:``."""
    t = str(text or "").strip().replace("（", "(").replace("）", ")").replace("：", ":")
    t = re.sub(r"\s+", "", t)
    return t.rstrip("*:").lstrip("*")


@dataclass
class Sheet:
    """A ledger file read: its header row (as written), the row number each data row has in the file
    (as Excel shows it), and the data rows as tuples of cell values (str, datetime, date or None)."""

    name: str
    header_row: int
    headers: list[str]
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    #: the worksheet read (a workbook: the one the user sees, :func:`pick_sheet`); None for a CSV
    sheet: str | None = None


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """The default mapping overridden by a TOML or JSON file of ``header = "field"`` pairs (a table
    ``[columns]`` or the top level). An unknown field is refused, naming the header."""
    mapping = {norm_header(k): v for k, v in DEFAULT_MAPPING.items()}
    if path is None:
        return mapping
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ValidationError(
            "mapping", "read", f"cannot read {p}: {e.strerror} / 无法读取映射文件"
        ) from None
    try:
        if p.suffix.lower() == ".json":
            got = json.loads(text)
        else:
            import tomllib

            got = tomllib.loads(text)
    except ValueError as e:
        raise ValidationError(
            "mapping", "syntax", f"{p.name} is not valid TOML/JSON: {e} / 映射文件格式错误"
        ) from None
    if isinstance(got, dict) and isinstance(got.get("columns"), dict):
        got = got["columns"]
    if not isinstance(got, dict):
        raise ValidationError(
            "mapping", "syntax", "the mapping is a table of header = field / 映射应为 表头 = 字段"
        )
    for header, fld in got.items():
        f = "-" if fld in ("", None) else str(fld).strip()
        if f not in FIELDS:
            raise ValidationError(
                "mapping",
                "field",
                f"{header!r} maps to unknown field {fld!r}; fields: {', '.join(FIELDS)} / 映射的字段不存在",
            )
        mapping[norm_header(header)] = f
    return mapping


def map_headers(headers: list[str], mapping: Mapping[str, str]) -> tuple[dict[int, str], list[str]]:
    """(column index -> field, unknown headers). A field named by two columns keeps the first."""
    cols: dict[int, str] = {}
    unknown: list[str] = []
    taken: set[str] = set()
    for i, h in enumerate(headers):
        key = norm_header(h)
        if not key:
            continue
        f = mapping.get(key)
        if f is None:
            unknown.append(str(h).strip())
        elif f != "-" and f not in taken:
            cols[i] = f
            taken.add(f)
    return cols, unknown


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ``.0`` (a phone typed as a number), dates ISO."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and "e" in repr(value):  # 1e-10 as Excel stores it: its digits, never
        from decimal import Decimal  # an exponent (read as "not a number" by the money rule)

        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _raw_rows(path: Path, info: dict[str, Any]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The file's rows (number as Excel shows it, values); ``info["sheet"]``: the worksheet read."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path, info)
    elif suffix in (".csv", ".txt"):
        yield from _csv_rows(path)
    else:
        raise ValidationError(
            "file",
            "format",
            f"{path.name}: give an .xlsx or .csv file (save an old .xls as .xlsx in Excel) "
            "/ 请提供 .xlsx 或 .csv 文件（旧版 .xls 请在 Excel 中另存为 .xlsx）",
        )


class NoValue:
    """A formula cell the workbook keeps no computed value of (saved by a program that does not
    calculate, e.g. a script): read as empty text, refused ``[formula]`` by the importer, not taken for
    an empty cell."""

    __slots__ = ("formula",)

    def __init__(self, formula: str) -> None:
        self.formula = formula

    def __str__(self) -> str:
        return ""


def _has_formulas(path: Path) -> bool:
    """Does any worksheet of the workbook hold a formula (an ``<f>`` element)? Only then is it read a
    second time for its formulas."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with z.open(name) as f:
                        while chunk := f.read(1 << 20):
                            if b"<f>" in chunk or b"<f " in chunk or b":f>" in chunk or b":f " in chunk:
                                return True
    except (OSError, zipfile.BadZipFile):
        return False  # the workbook's own reader says what is wrong
    return False


def pick_sheet(sheets: list[Any], active: Any) -> int:
    """The worksheet the user sees when opening the workbook: the active one if it is visible, else the
    first visible one (a hidden first sheet of lookups or an old copy is not the ledger)."""
    visible = [i for i, ws in enumerate(sheets) if getattr(ws, "sheet_state", "visible") == "visible"]
    if not visible:
        raise ValidationError(
            "file", "xlsx", "the workbook has no visible worksheet / 工作簿没有可见的工作表"
        )
    for i in visible:
        if sheets[i] is active:
            return i
    return visible[0]


_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]{1,3}[0-9]+)(?::([A-Z]{1,3}[0-9]+))?\"")


def merged_ranges(path: Path, member: str) -> list[tuple[int, int, int, int]]:
    """The merged ranges of a worksheet (its part ``member`` in the workbook zip), as (first row, first
    column, last row, last column), 1-based; read in chunks (a read-only workbook does not load them)."""
    import zipfile

    from openpyxl.utils.cell import coordinate_to_tuple

    out: list[tuple[int, int, int, int]] = []
    tail = b""
    try:
        with zipfile.ZipFile(path) as z, z.open(member.lstrip("/")) as f:
            while chunk := f.read(1 << 20):
                buf = tail + chunk
                end = 0
                for m in _MERGE.finditer(buf):
                    a = coordinate_to_tuple(m.group(1).decode())
                    b = coordinate_to_tuple(m.group(2).decode()) if m.group(2) else a
                    out.append((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
                    end = m.end()
                tail = buf[max(end, len(buf) - 200) :]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    return out


def _fill_merged(
    rows: Iterator[tuple[int, tuple[Any, ...]]], ranges: list[tuple[int, int, int, int]]
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """A merged range's value (its top-left cell's) in every cell it covers, so each row it spans reads
    it (a 企业名称 merged over three rows is each row's enterprise)."""
    if not ranges:
        yield from rows
        return
    by_first: dict[int, list[tuple[int, int, int, int]]] = {}
    for r in ranges:
        by_first.setdefault(r[0], []).append(r)
    live: list[tuple[int, int, int, Any]] = []  # (last row, first col, last col, value)
    for n, row in rows:
        live = [x for x in live if x[0] >= n]
        for _r0, c0, r1, c1 in by_first.get(n, ()):
            live.append((r1, c0, c1, row[c0 - 1] if c0 - 1 < len(row) else None))
        if live:
            cells = list(row)
            for _r1, c0, c1, value in live:
                if len(cells) < c1:
                    cells.extend([None] * (c1 - len(cells)))
                for c in range(c0 - 1, c1):
                    cells[c] = value
            row = tuple(cells)
        yield n, row


def _xlsx_rows(path: Path, info: dict[str, Any]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
        fb = load_workbook(path, read_only=True, data_only=False) if _has_formulas(path) else None
    except Exception as e:  # noqa: BLE001 - zip / xml errors: one message
        raise ValidationError(
            "file", "xlsx", f"{path.name} is not a readable Excel workbook: {e} / 无法读取 Excel 文件"
        ) from None
    try:
        i = pick_sheet(wb.worksheets, wb.active)
        ws = wb.worksheets[i]
        info["sheet"] = ws.title
        formulas = fb.worksheets[i].iter_rows(min_row=1, values_only=True) if fb is not None else None

        def values() -> Iterator[tuple[int, tuple[Any, ...]]]:
            for n, row in enumerate(ws.iter_rows(min_row=1, values_only=True), 1):
                got = tuple(row)
                if formulas is not None:
                    raw = next(formulas, ())
                    got = tuple(
                        NoValue(str(raw[i]))
                        if v is None and i < len(raw) and isinstance(raw[i], str) and raw[i].startswith("=")
                        else v
                        for i, v in enumerate(got)
                    )
                yield n, got

        yield from _fill_merged(values(), merged_ranges(path, str(getattr(ws, "_worksheet_path", ""))))
    finally:
        wb.close()
        if fb is not None:
            fb.close()


def sniff_encoding(raw: bytes) -> str:
    """UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode text"), else GB18030 (a superset of
    GBK, what Excel on Chinese Windows writes as "CSV")."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _csv_rows(path: Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    raw = path.read_bytes()
    enc = sniff_encoding(raw)
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError:
        raise ValidationError(
            "file", "encoding", f"{path.name}: not UTF-8 nor GBK text / 文件编码无法识别（应为 UTF-8 或 GBK）"
        ) from None
    text = text.lstrip("\ufeff")
    first = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(first, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), 1):
        yield n, tuple(row)


def read_sheet(path: str | Path, mapping: Mapping[str, str]) -> Sheet:
    """Read the file; the header row is the first of the first :data:`HEADER_SEARCH` rows naming at least
    two known columns (a title line above it is allowed). Every data row kept in ``rows``."""
    sheet, rows = open_sheet(path, mapping)
    sheet.rows.extend(rows)
    return sheet


def open_sheet(
    path: str | Path, mapping: Mapping[str, str]
) -> tuple[Sheet, Iterator[tuple[int, tuple[Any, ...]]]]:
    """The sheet's header (as :func:`read_sheet` finds it) and an iterator of its data rows, read as they
    are asked for (a workbook of 100,000 rows is never held whole: ``importer.run``)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError("file", "missing", f"no such file: {p} / 文件不存在")
    info: dict[str, Any] = {}
    rows = _raw_rows(p, info)
    sheet: Sheet | None = None
    for n, row in rows:
        known = sum(1 for c in row if norm_header(c) in mapping)
        if known >= 2:
            sheet = Sheet(p.name, n, [cell_text(c) for c in row], sheet=info.get("sheet"))
            break
        if n >= HEADER_SEARCH:
            break
    if sheet is None:
        rows.close()  # type: ignore[attr-defined]
        where = f" (worksheet {info['sheet']})" if info.get("sheet") else ""
        raise ValidationError(
            "file",
            "header",
            f"{p.name}{where}: no header row with known columns (企业名称, 统一社会信用代码, 受理日期 …) in its first "
            f"{HEADER_SEARCH} rows / 未找到表头行",
        )
    return sheet, ((n, row) for n, row in rows if any(cell_text(c) for c in row))
