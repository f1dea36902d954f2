"""The table rows of the xlsx report, streamed as sheet XML (issue 13: a 13 000-row month ≤ 1.5 s).

openpyxl (write-only) and XlsxWriter both spend ~10 µs of Python per cell; a month's 明细 sheet has
half a million cells. So :func:`qi_station.reports.writers.write_xlsx` builds the workbook with
openpyxl as before (every sheet, style, width, frozen pane and the native chart), but a table sheet
(分类, 整改, 指标, 明细 …) gets only its header and a *probe* row; the package is saved in memory and
:func:`splice_rows` copies it into the target file, writing each table's rows in place of its probe as
the same XML openpyxl writes for them: inline strings, ``t="n"`` numbers as ``%.16g``, ``t="b"``
booleans, no cell for ``None``, ``xml:space="preserve"`` where text has outer spaces, and formula-like
text (``writers.formula_like``) a string cell with the quote-prefix style openpyxl gave the probe
(the probe is formula-like on purpose). Characters a worksheet cannot hold (control characters in
old ledgers) are written as U+FFFD (`core.validate.neutralise`), never a crash.

Rows go CHUNK_ROWS at a time, column by column: each distinct value's cell XML is made once per
column (the row number left as a mark) and reused; a row is then one ``join`` and one ``replace``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, islice, repeat, zip_longest
from math import isinf, isnan
from operator import itemgetter, ne, not_
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
    formula_like_texts: Callable[[list[str]], Iterable[bool]] | None = None,
    dates: Mapping[str, Iterable[int]] | None = None,
) -> None:
    """Write ``package`` to ``out`` with each probe row replaced by the rows of ``tables[probe]``. A cell
    the probe row holds after the probe (a number with a number format: a date, a time) gives the style
    every number in its column takes (Excel dates and times are numbers with a date format).
    ``dates[probe]``: the columns (0-based) of that table that hold ISO-8601 texts written as Excel
    date-times (:class:`_DateColumn`). ``progress[probe](i)`` is called every 2 000 rows of that table
    and after its last. ``formula_like_texts`` (``formula_like`` of each of a list of texts at once) is
    quicker when given."""
    many = formula_like_texts or (lambda texts: map(formula_like, texts))
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
                + r"\d+)</t></is></c>((?:<c [^>]*>(?:<v>[^<]*</v>)?</c>)*)</row>",
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
                    many,
                    dict(re.findall(r'<c r="([A-Z]+)\d+" s="(\d+)"', m.group(4))),
                    (dates or {}).get(m.group(3), ()),
                )
                f.write(xml[m.end() :].encode("utf-8"))


_MARK = "\x00"  # where a row's number goes; openpyxl refuses it in a cell, so no value may hold it
_SEP = "\x01"  # between the texts of a batch (:meth:`_Column.texts_xml`); refused in a cell too
_TEXT = frozenset((str,))
_PLAIN = frozenset((str, int, float, type(None)))
CACHE_LIMIT = 50_000  # distinct values remembered per column


class _Column:
    """One column's cell XML by value (``_MARK`` in place of the row number). A month's 明细 has half
    a million cells over far fewer distinct values: per chunk of rows, each distinct value new to the
    column is made once (:meth:`texts_xml`), then the column is one ``map`` of dict look-ups; a column
    of text whose values are nearly all new each chunk (ids, times) is made without the dict. Only for
    values of ``_PLAIN`` types: ``True == 1``, so a column holding booleans or other types goes through
    :meth:`make`, cell by cell."""

    def __init__(
        self,
        letter: str,
        qp: str,
        formula_like: Callable[[Any], bool],
        formula_like_texts: Callable[[list[str]], Iterable[bool]],
        num_style: str = "",
    ) -> None:
        self.head = '<c r="' + letter + _MARK + '"'
        self.num = self.head + (f' s="{num_style}"' if num_style else "")  # a number's cell (its format)
        self.qp = qp
        self.formula_like = formula_like
        self.formula_like_texts = formula_like_texts
        self.xml: dict[Any, str] = {}
        self.unique = False  # the last chunk's values were nearly all new to the column

    def cells(self, vals: Sequence[Any]) -> list[str]:
        types = set(map(type, vals))
        if not types <= _PLAIN:
            return list(map(self.make, vals))
        if self.unique and types == _TEXT:  # a column of distinct texts (ids, times): not remembered
            return self.texts_xml(list(vals))
        xml = self.xml
        new = set(vals).difference(xml)
        self.unique = len(new) * 10 >= len(vals) * 9
        if new:
            if len(xml) + len(new) > CACHE_LIMIT:
                xml.clear()
                new = set(vals)
            texts = [v for v in new if type(v) is str]
            if len(texts) < len(new):
                for v in new:
                    if type(v) is not str:
                        xml[v] = self.make(v)
            if texts:
                xml.update(zip(texts, self.texts_xml(texts), strict=True))
        return list(map(xml.__getitem__, vals))

    def texts_xml(self, texts: list[str]) -> list[str]:
        """The cells of ``texts``, a whole batch at a time: escaped in one joined string, each cell
        cut out of one ``split``; then the few with outer spaces (kept: ``xml:space``), formula-like
        text (quote prefix) or empty text are made again singly."""
        if not texts:
            return []
        head = self.head
        joined = _SEP.join(texts)
        if _MARK in joined or joined.count(_SEP) != len(texts) - 1:  # both refused by openpyxl
            _refuse(next(v for v in texts if _MARK in v or _SEP in v))
        if "&" in joined:
            joined = joined.replace("&", "&amp;")
        if "<" in joined:
            joined = joined.replace("<", "&lt;")
        if ">" in joined:
            joined = joined.replace(">", "&gt;")
        plain, tail = head + ' t="inlineStr"><is><t>', "</t></is></c>"
        out = (plain + joined.replace(_SEP, tail + _SEP + plain) + tail).split(_SEP)
        qp, formula_like = self.qp, self.formula_like
        at = range(len(texts))
        for i in compress(at, map(ne, map(str.strip, texts), texts)):
            out[i] = _text_cell(head, texts[i], qp if formula_like(texts[i]) else "")
        for i in compress(at, self.formula_like_texts(texts)):
            out[i] = _text_cell(head, texts[i], qp)
        if "" in texts:
            for i in compress(at, map(not_, texts)):
                out[i] = _text_cell(head, "", "")
        return out

    def make(self, v: Any) -> str:
        if v is None:
            return ""
        head = self.head
        if isinstance(v, str):
            if _MARK in v:
                _refuse(v)
            return _text_cell(head, v, self.qp if self.formula_like(v) else "")
        if isinstance(v, bool):
            return f'{head} t="b"><v>{int(v)}</v></c>'
        if isinstance(v, int | float):
            if isinstance(v, float) and (isnan(v) or isinf(v)):
                num = ""
            else:
                num = "0" if v == 0 else f"{v:.16g}"  # -0.0 as 0: 0 and -0.0 are one dict key
            return f'{self.num} t="n"><v>{num}</v></c>'
        # the report formats every value it puts in a table; anything else is shown as text
        t = str(v)
        if _MARK in t:
            _refuse(t)
        t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'{head} t="inlineStr"><is><t>{t}</t></is></c>'


EXCEL_DAY0 = 693594  # date(1899, 12, 30).toordinal(): Excel's day 0 (the 1900 date system)
_DAY = itemgetter(slice(0, 10))  # "2026-01-31" of "2026-01-31T23:30:00+08:00"
_TAIL = itemgetter(slice(10, None))  # "T23:30:00+08:00" of it ("" of a date)
_TIME_TAIL = re.compile(r"T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:[+-]\d\d:\d\d|Z)?")


def excel_serial(v: str) -> float | None:
    """THE Excel serial number (1900 system) of an ISO-8601 date or date-time text's wall-clock time
    (``2026-01-31T23:30:00+08:00`` -> 46053.979166…: the report's times are Asia/Shanghai, the offset
    is not applied); None when the text is not ISO-8601 (it stays text). :class:`_DateColumn` makes
    the same number from texts (:func:`_day_text`, :func:`_tail_texts`) a column at a time."""
    from datetime import date, datetime

    try:
        if len(v) == 10:
            return float(date.fromisoformat(v).toordinal() - EXCEL_DAY0)
        d = datetime.fromisoformat(v)
    except ValueError:
        return None
    return float(d.toordinal() - EXCEL_DAY0) + (d.hour * 3600 + d.minute * 60 + d.second) / 86400


def _day_text(day: str) -> str | None:
    """Excel's day number of ``YYYY-MM-DD`` as text (``"46053"``); None if it is not a date."""
    from datetime import date

    try:
        return str(date.fromisoformat(day).toordinal() - EXCEL_DAY0) if len(day) == 10 else None
    except ValueError:
        return None


def _tail_texts(tails: list[str]) -> list[str | None]:
    """The fraction of a day each ``T23:30:00+08:00`` tail of a date-time names, as the text that
    follows the day number (``".9791666667"``: ten decimals, a third of a millisecond, so a reader
    gets the second back exactly; ``""`` at midnight and for a date's empty tail); None for a tail of
    another shape (that value is made by :func:`excel_serial`). The hour and minute, and the second,
    are read by two look-ups (no ``int`` parse); the offsets, a handful, are checked once each."""
    try:
        if all(map(_OFFSET.fullmatch, set(map(_AFTER_SECONDS, tails)))):
            return [
                f"{(_HOUR_MINUTE[t[:7]] + _SECOND[t[7:9]]) / 86400:.10f}".rstrip("0")[1:].rstrip(".")
                for t in tails
            ]
    except KeyError:  # a tail of another shape: each one alone
        pass
    return [_tail_texts([t])[0] if _TIME_TAIL.fullmatch(t) else ("" if t == "" else None) for t in tails]


_HOUR_MINUTE = {f"T{h:02d}:{m:02d}:": h * 3600 + m * 60 for h in range(24) for m in range(60)}
_SECOND = {f"{s:02d}": s for s in range(60)}
_AFTER_SECONDS = itemgetter(slice(9, None))
_OFFSET = re.compile(r"(?:[+-]\d\d:\d\d|Z)?")


class _DateColumn(_Column):
    """A column of ISO-8601 dates or date-times (the report's times, Asia/Shanghai) written as Excel
    date-times: numbers (:func:`excel_serial`) in the column's date format. A chunk's column is cut
    into day and time-of-day texts (``itemgetter`` slices), each looked up in a table of its own (a
    month has a few dozen days; the times of day are made a batch at a time when new), the number
    text put together by concatenation: no Python call per cell. A value of another shape goes cell
    by cell: a number if :func:`excel_serial` reads it, else text."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.days: dict[str, str | None] = {}
        self.tails: dict[str, str | None] = {"": ""}
        self.pre, self.post = self.num + ' t="n"><v>', "</v></c>"

    def cells(self, vals: Sequence[Any]) -> list[str]:
        if not vals:
            return []
        if set(map(type, vals)) != _TEXT:
            out = [""] * len(vals)
            at = [i for i, v in enumerate(vals) if type(v) is str]
            for i, x in zip(at, self.cells([vals[i] for i in at]), strict=True):
                out[i] = x
            for i, v in enumerate(vals):
                if v is not None and type(v) is not str:
                    out[i] = self.make(v)
            return out
        days, tails = self.days, self.tails
        day_keys, tail_keys = list(map(_DAY, vals)), list(map(_TAIL, vals))
        new_days = set(day_keys).difference(days)
        for k in new_days:
            days[k] = _day_text(k)
        new_tails = list(set(tail_keys).difference(tails))
        if new_tails:
            if len(tails) + len(new_tails) > CACHE_LIMIT * 2:
                tails.clear()
                tails[""] = ""
            tails.update(zip(new_tails, _tail_texts(new_tails), strict=True))
        d = list(map(days.__getitem__, day_keys))
        t = list(map(tails.__getitem__, tail_keys))
        bad = None in d or None in t
        if bad:  # not ISO-8601 of the usual shape: those cell by cell
            at = [i for i, (x, y) in enumerate(zip(d, t, strict=True)) if x is None or y is None]
            for i in at:
                d[i], t[i] = "", ""
        nums = list(map(str.__add__, d, t))  # type: ignore[arg-type]  # no None left
        out = (self.pre + (self.post + _SEP + self.pre).join(nums) + self.post).split(_SEP)
        if bad:
            for i in at:
                serial = excel_serial(vals[i])
                out[i] = self.make(vals[i] if serial is None else serial)
        return out


def _xml_safe(v: Any) -> Any:
    """A value with every character a worksheet cannot hold (and every one the text rule refuses)
    replaced by U+FFFD (``core.validate.neutralise``); newline and tab are kept."""
    from qi_station.core.validate import neutralise

    return neutralise(v) if isinstance(v, str) else v


def _refuse(v: str) -> None:
    from openpyxl.utils.exceptions import IllegalCharacterError

    raise IllegalCharacterError(f"{v!r} cannot be used in worksheets.")


def _write_rows(
    f: IO[bytes],
    rows: Iterable[Sequence[Any]],
    first: int,
    quote_style: str,
    formula_like: Callable[[Any], bool],
    progress: Callable[[int], None] | None,
    formula_like_texts: Callable[[list[str]], Iterable[bool]] | None = None,
    styles: dict[str, str] | None = None,
    dates: Iterable[int] = (),
) -> None:
    """The rows, CHUNK_ROWS at a time: each column of the chunk made cell XML by its :class:`_Column`
    (:class:`_DateColumn` for the columns in ``dates``),
    then each row one ``join`` with its number put in (``str.replace``); a chunk holding a character
    openpyxl refuses (``ILLEGAL_CHARACTERS_RE``: control characters; ``_MARK`` is one, refused
    before it is replaced) is refused as openpyxl refuses it."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError

    qp = f' s="{quote_style}"'
    many = formula_like_texts or (lambda texts: map(formula_like, texts))
    columns: list[_Column] = []
    date_cols = frozenset(dates)
    tails: dict[str, str | None] = {"": ""}
    it = iter(rows)
    n = 0
    while chunk := list(islice(it, CHUNK_ROWS)):
        width = max(map(len, chunk))
        while len(columns) < width:
            letter = get_column_letter(len(columns) + 1)
            style = (styles or {}).get(letter, "")
            if len(columns) in date_cols:
                col: _Column = _DateColumn(letter, qp, formula_like, many, style)
                col.tails = tails  # type: ignore[attr-defined]  # the times of day: one table for all
            else:
                col = _Column(letter, qp, formula_like, many, style)
            columns.append(col)

        def made(chunk: list[Sequence[Any]], width: int = width, at: int = first + n) -> bytes | None:
            """The chunk's XML; None when it holds a character a worksheet cannot (then nothing of it
            is remembered by the columns)."""
            values = zip(*chunk, strict=True) if min(map(len, chunk)) == width else zip_longest(*chunk)
            try:
                cells = [col.cells(vals) for col, vals in zip(columns, values, strict=False)]
            except IllegalCharacterError:
                return None
            k = len(chunk)
            numbers = map(str, range(at, at + k))
            xml = zip(repeat('<row r="' + _MARK + '">', k), *cells, repeat("</row>", k), strict=True)
            text = "".join([("".join(x)).replace(_MARK, r) for r, x in zip(numbers, xml, strict=True)])
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                return None
            if data.translate(None, _legal_bytes(ILLEGAL_CHARACTERS_RE)):  # ~10x quicker than the regex
                if ILLEGAL_CHARACTERS_RE.search(text):
                    return None
            return data

        data = made(chunk)
        if data is None:  # stored text holding control characters (an old ledger): shown as U+FFFD
            for col in columns:
                col.xml.clear()  # cells made of the raw text are never reused
            data = made([[_xml_safe(v) for v in row] for row in chunk])
            if data is None:
                raise RuntimeError("xlsx: a chunk still holds an illegal character after neutralising")
        f.write(data)
        n += len(chunk)
        if progress and n % 2000 == 0:
            progress(n)
    if progress and n % 2000:
        progress(n)


_LEGAL: dict[str, bytes] = {}


def _legal_bytes(illegal: re.Pattern[str]) -> bytes:
    """Every byte value that is not an ASCII character ``illegal`` matches (openpyxl's rule: control
    characters, all ASCII): deleting these from UTF-8 text leaves the illegal characters, if any (bytes
    below 0x80 occur in UTF-8 only as themselves)."""
    got = _LEGAL.get(illegal.pattern)
    if got is None:
        got = _LEGAL[illegal.pattern] = bytes(b for b in range(256) if b >= 0x80 or not illegal.match(chr(b)))
    return got


def _text_cell(head: str, v: str, s: str) -> str:
    if not v:
        return head + ' t="inlineStr" />'
    stripped = v.strip()
    sp = ' xml:space="preserve"' if stripped and stripped != v else ""
    v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{head}{s} t="inlineStr"><is><t{sp}>{v}</t></is></c>'
