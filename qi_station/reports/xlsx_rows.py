"""The table rows of the xlsx report, streamed as sheet XML (issue 13: a 13 000-row month ≤ 1.5 s).

openpyxl (write-only) and XlsxWriter both spend ~10 µs of Python per cell; a month's 明细 sheet has
half a million cells. So :func:`qi_station.reports.writers.write_xlsx` builds the workbook with
openpyxl as before (every sheet, style, width, frozen pane and the native chart), but a table sheet
(分类, 整改, 指标, 明细 …) gets only its header and a *probe* row; the package is saved in memory and
:func:`splice_rows` copies it into the target file, writing each table's rows in place of its probe as
the same XML openpyxl writes for them: inline strings, ``t="n"`` numbers as ``%.16g``, ``t="b"``
booleans, no cell for ``None``, ``xml:space="preserve"`` where text has outer spaces, and formula-like
text (``writers.formula_like``) a string cell with the quote-prefix style openpyxl gave the probe
(the probe is formula-like on purpose). Control characters are refused as openpyxl refuses them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from math import isinf, isnan
from pathlib import Path
from typing import IO, Any

PROBE = "=qi-station-rows-probe-7f3c-"
CHUNK_ROWS = 500


def probe(n: int) -> str:
    """The text of table ``n``'s probe cell (A of the row after the header)."""
    return f"{PROBE}{n}"


def splice_rows(
    package: bytes,
    out: Path,
    tables: dict[str, Iterable[Sequence[Any]]],
    formula_like: Callable[[Any], bool],
    progress: dict[str, Callable[[int], None] | None] | None = None,
) -> None:
    """Write ``package`` to ``out`` with each probe row replaced by the rows of ``tables[probe]``.
    ``progress[probe](i)`` is called every 2 000 rows of that table and after its last."""
    marker = PROBE.encode()
    with (
        zipfile.ZipFile(io.BytesIO(package)) as zin,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
    ):
        for info in zin.infolist():
            data = zin.read(info)
            if marker not in data:
                zout.writestr(info.filename, data)
                continue
            xml = data.decode("utf-8")
            m = re.search(
                r'<row r="(\d+)"[^>]*><c r="A\d+" s="(\d+)" t="inlineStr"><is><t>('
                + re.escape(PROBE)
                + r"\d+)</t></is></c></row>",
                xml,
            )
            if not m or m.group(3) not in tables or not xml.startswith("</sheetData>", m.end()):
                raise RuntimeError("xlsx: a table's probe row is not where it was put")
            with zout.open(info.filename, "w", force_zip64=True) as f:
                f.write(xml[: m.start()].encode("utf-8"))
                _write_rows(
                    f,
                    tables[m.group(3)],
                    int(m.group(1)),
                    m.group(2),
                    formula_like,
                    (progress or {}).get(m.group(3)),
                )
                f.write(xml[m.end() :].encode("utf-8"))


def _write_rows(
    f: IO[bytes],
    rows: Iterable[Sequence[Any]],
    first: int,
    quote_style: str,
    formula_like: Callable[[Any], bool],
    progress: Callable[[int], None] | None,
) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    qp = f' s="{quote_style}"'
    cols: list[str] = []
    parts: list[str] = []
    add = parts.append
    n = 0
    for n, row in enumerate(rows, start=1):
        r = str(first + n - 1)
        while len(cols) < len(row):
            cols.append('<c r="' + get_column_letter(len(cols) + 1))
        add('<row r="' + r + '">')
        for col, v in zip(cols, row, strict=False):
            if v is None:
                continue
            if type(v) is str:
                if not v:
                    add(col + r + '" t="inlineStr" />')
                    continue
                s = qp if formula_like(v) else ""
                stripped = v.strip()
                sp = ' xml:space="preserve"' if stripped is not v and stripped else ""
                if "&" in v:
                    v = v.replace("&", "&amp;")
                if "<" in v:
                    v = v.replace("<", "&lt;")
                if ">" in v:
                    v = v.replace(">", "&gt;")
                add(f'{col}{r}"{s} t="inlineStr"><is><t{sp}>{v}</t></is></c>')
            elif isinstance(v, str):  # a str subclass: as above, by the slow road
                add(_text_cell(col + r + '"', v, qp if formula_like(v) else ""))
            elif isinstance(v, bool):
                add(f'{col}{r}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, int | float):
                num = "" if isinstance(v, float) and (isnan(v) or isinf(v)) else f"{v:.16g}"
                add(f'{col}{r}" t="n"><v>{num}</v></c>')
            else:  # the report formats every value it puts in a table; anything else is shown as text
                t = str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                add(f'{col}{r}" t="inlineStr"><is><t>{t}</t></is></c>')
        add("</row>")
        if n % CHUNK_ROWS == 0:
            _flush(f, parts, ILLEGAL_CHARACTERS_RE)
        if progress and n % 2000 == 0:
            progress(n)
    _flush(f, parts, ILLEGAL_CHARACTERS_RE)
    if progress and n % 2000:
        progress(n)


def _text_cell(head: str, v: str, s: str) -> str:
    if not v:
        return head + ' t="inlineStr" />'
    stripped = v.strip()
    sp = ' xml:space="preserve"' if stripped and stripped != v else ""
    v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{head}{s} t="inlineStr"><is><t{sp}>{v}</t></is></c>'


_LEGAL: dict[str, bytes] = {}


def _legal_bytes(illegal: re.Pattern[str]) -> bytes:
    """Every byte value that is not an ASCII character ``illegal`` matches (openpyxl's rule: control
    characters, all ASCII): deleting these from UTF-8 text leaves the illegal characters, if any (bytes
    below 0x80 occur in UTF-8 only as themselves)."""
    got = _LEGAL.get(illegal.pattern)
    if got is None:
        got = _LEGAL[illegal.pattern] = bytes(b for b in range(256) if b >= 0x80 or not illegal.match(chr(b)))
    return got


def _flush(f: IO[bytes], parts: list[str], illegal: re.Pattern[str]) -> None:
    from openpyxl.utils.exceptions import IllegalCharacterError

    chunk = "".join(parts)
    parts.clear()
    data = chunk.encode("utf-8")
    if data.translate(None, _legal_bytes(illegal)):  # ~10x quicker than the regex over the chunk
        bad = illegal.search(chunk)
        if bad:  # as openpyxl refuses a cell value with a control character
            raise IllegalCharacterError(
                f"{chunk[max(0, bad.start() - 40) : bad.end()]!r} cannot be used in worksheets."
            )
    f.write(data)
