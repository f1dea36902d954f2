"""Working days (工作日): THE rule for counting them, and THE check of a holiday calendar year.

A :class:`Calendar` holds the official days off (法定节假日, ``off``) and the weekend days worked instead
(调休上班, ``work``) of the years it covers. A day is a working day when it is a worked weekend day, or
a Monday-Friday that is not a day off. The State Council publishes each coming year in November or
December; a date in a year the calendar does not cover is never guessed silently: the strict functions
raise :class:`CalendarGap`, and :func:`promise_date` (the one lenient path) says which years it had to
count over weekends only.

The day of receipt is never counted: received on a Wednesday, one working day later is Thursday.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from qi_station.core.errors import ValidationError, zh_quoted

KINDS = ("off", "work")  # off = an official day off; work = a weekend day worked instead (调休)
MAX_WORKDAYS = 366  # a promise longer than a year of working days is a typo


class CalendarGap(ValidationError):
    """A date falls in a year the holiday calendar does not cover (no guessing)."""

    def __init__(self, year: int, field: str = "calendar") -> None:
        super().__init__(
            field,
            "calendar_missing",
            f"the holiday calendar does not cover {year}: load it (`qi-station hub calendar import FILE` at "
            f"the hub, then sync) / 节假日日历未包含 {year} 年，无法按工作日计算",
        )
        self.year = year


@dataclass(frozen=True)
class Day:
    day: date
    kind: str
    name: str


@dataclass(frozen=True)
class Calendar:
    off: frozenset[date] = frozenset()
    work: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    # what shifts a Monday-Friday count, as sorted day ordinals (bisect), in the covered years only (an
    # uncovered year counts Monday-Friday): the weekdays off (not also worked: a worked day wins, as in
    # :meth:`_workday`) and the weekend days worked
    _off_weekdays: tuple[int, ...] = field(init=False, repr=False, compare=False, default=())
    _work_weekends: tuple[int, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        ys = self.years
        off = sorted(
            d.toordinal() for d in self.off if d.weekday() < 5 and d not in self.work and d.year in ys
        )
        work = sorted(d.toordinal() for d in self.work if d.weekday() >= 5 and d.year in ys)
        object.__setattr__(self, "_off_weekdays", tuple(off))
        object.__setattr__(self, "_work_weekends", tuple(work))

    @classmethod
    def of(cls, days: Iterable[Day | tuple[date | str, str]], years: Iterable[int]) -> Calendar:
        off: set[date] = set()
        work: set[date] = set()
        for d in days:
            dd, kind = (d.day, d.kind) if isinstance(d, Day) else (d[0], d[1])
            dd = dd if isinstance(dd, date) else date.fromisoformat(dd)
            (off if kind == "off" else work).add(dd)
        return cls(frozenset(off), frozenset(work), frozenset(int(y) for y in years))

    def covers(self, d: date) -> bool:
        return d.year in self.years

    def _workday(self, d: date, strict: bool, gaps: set[int]) -> bool:
        if d.year not in self.years:
            if strict:
                raise CalendarGap(d.year)
            gaps.add(d.year)
            return d.weekday() < 5
        if d in self.work:
            return True
        return d.weekday() < 5 and d not in self.off

    def is_workday(self, d: date) -> bool:
        """Raises :class:`CalendarGap` when ``d``'s year is not covered."""
        return self._workday(d, True, set())

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted; n = 0 gives ``start``).
        Raises :class:`CalendarGap` for a day it must count in an uncovered year."""
        return self._add(start, n, True, set())

    def _add(self, start: date, n: int, strict: bool, gaps: set[int]) -> date:
        """The ``n``-th working day after ``start``, counted as the day-by-day walk over ``_workday`` would
        (strict: :class:`CalendarGap` for the first uncovered year it must count in; else those years
        count Monday-Friday and land in ``gaps``), by arithmetic: whole weeks of five, then the covered
        days off and worked weekend days in between (bisect)."""
        if not 0 <= n <= MAX_WORKDAYS:
            raise ValidationError(
                "workdays",
                "range",
                f"working days must be 0..{MAX_WORKDAYS} / 工作日数应在 0-{MAX_WORKDAYS} 之间",
            )
        if n == 0:
            return start
        s = start.toordinal()
        target = self._upto(s) + n  # the answer: the first day x > s with _upto(x) == target
        lo = s  # _upto(lo) < target
        while True:
            # the day the missing working days would end on if each Monday-Friday were one
            x = _nth_weekday(_weekdays_upto(lo) + target - self._upto(lo))
            if self._upto(x) >= target:
                break
            lo = x  # days off on the way: count on from x
        # the answer lies in (lo, x]: x itself unless worked weekend days reached the target sooner or
        # x is a day off (the count rises by one on each working day, so the first day reaching it)
        hi = x
        if self._upto(x - 1) < target:
            lo = x - 1  # the usual case: x it is
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._upto(mid) >= target:
                hi = mid
            else:
                lo = mid
        end = date.fromordinal(hi)
        first = date.fromordinal(s + 1).year
        missing = [y for y in range(first, end.year + 1) if y not in self.years]
        if missing:
            if strict:
                raise CalendarGap(missing[0])
            gaps.update(missing)
        return end

    def workday_ordinals(self, first: date, last: date) -> list[int]:
        """The ordinals of the working days from ``first`` to ``last`` (both included), an uncovered year
        counted Monday-Friday: the days the lenient walk of :func:`promise_date` counts, so the ``n``-th
        of them after a day ``d`` (``first <= d + 1``) is ``promise_date(self, d, n).date`` while it lies
        in the list. For many days at once (bisect), not one count each."""
        gaps: set[int] = set()
        day, one, out = first, timedelta(days=1), []
        while day <= last:
            if self._workday(day, False, gaps):
                out.append(day.toordinal())
            day += one
        return out

    def _upto(self, o: int) -> int:
        """Working days from a fixed Monday (0001-01-01) up to and including the day of ordinal ``o``,
        each uncovered year counted Monday-Friday."""
        return _weekdays_upto(o) - bisect_right(self._off_weekdays, o) + bisect_right(self._work_weekends, o)

    def uncovered_year(self, a: date, b: date) -> int | None:
        """The first year of the days ``(a, b]`` this calendar does not cover, or None."""
        first = a + timedelta(days=1)
        for y in range(first.year, b.year + 1):
            if y not in self.years:
                return y
        return None

    def workdays_between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b`` (``a`` not counted; 0 when ``b <= a``), so
        ``workdays_between(a, add_workdays(a, n)) == n``. Raises :class:`CalendarGap` when a day of
        ``(a, b]`` falls in an uncovered year. Arithmetic, not a day-by-day walk (a ledger list counts it
        for every row)."""
        if b <= a:
            return 0
        gap = self.uncovered_year(a, b)
        if gap is not None:
            raise CalendarGap(gap)
        return self._upto(b.toordinal()) - self._upto(a.toordinal())


def _weekdays_upto(o: int) -> int:
    """Monday-Friday days from a fixed Monday (0001-01-01, ordinal 1) up to and including ordinal ``o``."""
    weeks, rest = divmod(o, 7)
    return weeks * 5 + min(rest, 5)


def _nth_weekday(k: int) -> int:
    """The ordinal of the ``k``-th Monday-Friday day (k >= 1) counted from 0001-01-01 (a Monday): the
    first ordinal ``o`` with ``_weekdays_upto(o) == k``."""
    weeks, rest = divmod(k - 1, 5)
    return weeks * 7 + rest + 1


def elapsed(cal: Calendar, start: date, end: date) -> tuple[int, int | None]:
    """From ``start`` to ``end`` (``start`` not counted): (calendar days, working days), the working days
    None where the calendar does not cover the stretch (said, not guessed). THE count behind "days taken"
    and "days overdue" in lists, the detail screen and the report."""
    days = max(0, (end - start).days)
    if end > start and cal.uncovered_year(start, end) is not None:
        return days, None  # (asked first: a list meets it on many rows, an exception each is slow)
    return days, cal.workdays_between(start, end)


def request_days(
    cal: Calendar, received: date, promised: date, resolved: date | None, is_open: bool, today: date
) -> dict[str, int | None]:
    """``days_taken`` / ``workdays_taken``: from the day of receipt to the resolution (to today while the
    request is open; None for one closed without a resolution); ``overdue_days`` / ``overdue_workdays``:
    past the promised date, for an open request only (None when not overdue)."""
    end = resolved if resolved is not None else (today if is_open else None)
    taken = elapsed(cal, received, end) if end is not None else (None, None)
    over = elapsed(cal, promised, today) if is_open and promised < today else (None, None)
    return {
        "days_taken": taken[0],
        "workdays_taken": taken[1],
        "overdue_days": over[0],
        "overdue_workdays": over[1],
    }


@dataclass(frozen=True)
class Promise:
    """A promised date and the years it had to count over weekends only (empty: fully by the calendar)."""

    date: date
    uncovered: tuple[int, ...] = field(default=())

    @property
    def warning(self) -> str | None:
        if not self.uncovered:
            return None
        ys = "、".join(str(y) for y in self.uncovered)
        return (
            f"the holiday calendar does not cover {', '.join(str(y) for y in self.uncovered)}: the promised "
            f"date counts weekends only, check it / 节假日日历未包含 {ys} 年：承诺日期仅按周末推算，请核对"
        )


def promise_date(cal: Calendar, received: date, workdays: int) -> Promise:
    """THE promised date: ``received`` + ``workdays`` working days (the day of receipt not counted). Where
    the calendar does not cover a year it must count in, that stretch counts Monday-Friday only and the
    years are returned, so the caller says so (never a silent guess)."""
    gaps: set[int] = set()
    d = cal._add(received, workdays, False, gaps)
    return Promise(d, tuple(sorted(gaps)))


def check_promise_days(value: object, field: str) -> int:
    """A station's promise in working days: a whole number 1..MAX_WORKDAYS."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = -1
    if not 1 <= n <= MAX_WORKDAYS or str(value).strip() != str(n):
        raise ValidationError(
            field,
            "range",
            f"whole working days 1..{MAX_WORKDAYS} (got {value!r}) / 承诺时限应为 1-{MAX_WORKDAYS} 个工作日的整数",
        )
    return n


def check_year_days(year: object, rows: Iterable[dict[str, object]], source: str = "calendar") -> list[Day]:
    """THE check of one published calendar year, before anything is written (hub import, the shipped file,
    a station receiving it): the year is a 4-digit year; every row has a date inside that year, a kind
    ``off`` or ``work`` and a name; no date twice; a ``work`` day is a Saturday or Sunday. Returns the
    days sorted by date."""
    try:
        y = int(str(year))
    except ValueError:
        y = 0
    if not 1900 <= y <= 2999:
        raise ValidationError("year", "range", f"{source}: not a year: {year!r} / 年份无效{zh_quoted(year)}")
    out: dict[date, Day] = {}
    for i, r in enumerate(rows, start=1):
        where = f"{source} {y} row {i}"
        raw = str(r.get("date") or "").strip()
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(
                "date", "date", f"{where}: not a date YYYY-MM-DD: {raw!r} / 日期格式应为 YYYY-MM-DD"
            ) from None
        if d.year != y:
            raise ValidationError(
                "date", "year", f"{where}: {d} is not in the year {y} the file claims / {d} 不在 {y} 年内"
            )
        kind = str(r.get("kind") or "").strip().lower()
        if kind not in KINDS:
            raise ValidationError(
                "kind",
                "choice",
                f"{where}: kind must be off or work: {kind!r} / 类型应为 off(放假) 或 work(调休上班)",
            )
        name = str(r.get("name") or "").strip()
        if not name or len(name) > 40:
            raise ValidationError("name", "required", f"{where}: a holiday name (≤40) / 需要节日名称(≤40字)")
        if kind == "work" and d.weekday() < 5:
            raise ValidationError(
                "kind",
                "weekend",
                f"{where}: a worked day must be a weekend day / 调休上班日 {d} 应为周六或周日",
            )
        if d in out:
            raise ValidationError("date", "duplicate", f"{where}: {d} appears twice / {d} 重复")
        out[d] = Day(d, kind, name)
    if not out:
        raise ValidationError("date", "required", f"{source} {y}: no days for the year / 没有日期")
    return [out[d] for d in sorted(out)]


def read_calendar_text(text: str, source: str = "calendar") -> dict[int, list[Day]]:
    """A calendar file (UTF-8 CSV, header ``year,date,kind,name``; lines starting with ``#`` are notes)
    -> {year: checked days}. Each year it names is checked whole by :func:`check_year_days`."""
    import csv
    import io

    body = [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(body)))
    need = {"year", "date", "kind", "name"}
    if not reader.fieldnames or not need <= {f.strip() for f in reader.fieldnames}:
        raise ValidationError(
            "file",
            "columns",
            f"{source}: the header must be year,date,kind,name / 需要列 year,date,kind,name",
        )
    by_year: dict[str, list[dict[str, object]]] = {}
    for r in reader:
        row = {(k or "").strip(): v for k, v in r.items()}
        by_year.setdefault(str(row.get("year") or "").strip(), []).append(row)
    if not by_year:
        raise ValidationError("file", "required", f"{source}: no rows / 没有数据")
    out: dict[int, list[Day]] = {}
    for y, rows in by_year.items():
        days = check_year_days(y, rows, source)
        out[days[0].day.year] = days
    return out


def calendar_csv(year: int, days: Iterable[Day]) -> str:
    """One checked year as the calendar file text (the body the hub distributes for that year)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["year", "date", "kind", "name"])
    w.writerows([year, d.day.isoformat(), d.kind, d.name] for d in days)
    return buf.getvalue()
