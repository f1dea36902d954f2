"""``qi-station report monthly`` and ``qi-station hub report monthly``.

Import-light: Typer and the CLI kit only; SQLAlchemy and openpyxl are imported inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from qi_station.cli.kit import OPTS, handle_errors, station_db

report_app = typer.Typer(help="Monthly summaries 月报.", no_args_is_help=True)
hub_report_app = typer.Typer(
    help="Province-wide monthly summaries at the hub 全省月报.", no_args_is_help=True
)

MONTH_HELP = "Month YYYY-MM, Asia/Shanghai (default: the last full month)."
FORMAT_HELP = (
    "xlsx, csv (UTF-8 with BOM), json or md (default: the --out extension, else xlsx). An --out ending in "
    "another extension is refused."
)
OUT_HELP = (
    "Output file or directory (default: qi-report-<station>-<month>.<ext> in the export folder, "
    "~/Documents/qi-station; stdout for json). Never a database; an existing file only with --force."
)
FORCE_HELP = "Replace an existing report file of the same format (never a database or another kind of file)."


def _check_format(fmt: str | None, out: str | Path | None) -> str:
    from qi_station.reports.writers import FORMATS
    from qi_station.services.files import export_format

    return export_format(out, fmt, FORMATS)


def _check_month_format(month: str | None, fmt: str | None, out: str | Path | None) -> tuple[str, str]:
    """``--month`` and ``--format``: every bad one at once (``core.validate.Checks``)."""
    from qi_station.core.validate import Checks

    c = Checks()
    m = c.run(_check_month, month)
    f = c.run(_check_format, fmt, out)
    c.done()
    return m, f


def _check_month(month: str | None) -> str:
    from qi_station.core.months import check_month, last_full_month

    if month is None:  # not given: the last full month
        return check_month(last_full_month())
    return check_month(month.strip())  # ValidationError("month", ...); an empty --month "" is refused


@contextmanager
def _progress(label: str) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """Progress on stderr, only when stderr is a terminal: query steps, then detail rows written."""
    if not sys.stderr.isatty():
        yield (lambda _s: None), (lambda _d, _t: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as p:
        from qi_station.reports.queries import STEPS

        steps = p.add_task(f"{label}: queries", total=STEPS)
        rows = p.add_task(f"{label}: rows", total=None, visible=False)

        def step(name: str) -> None:
            p.update(steps, advance=1, description=f"{label}: {name}")

        def row(done: int, total: int) -> None:
            p.update(rows, completed=done, total=total, visible=True)

        yield step, row


def _emit(
    report: dict[str, Any],
    fmt: str,
    out: str | Path | None,
    code: str,
    force: bool = False,
    protect: Path | None = None,
) -> None:
    from qi_station.reports.writers import render_json, write_report
    from qi_station.services.files import export_path, report_name

    lang = "en" if OPTS.lang == "en" else "zh"
    if out is None and fmt == "json":  # for scripts; md is a document, written to a file as xlsx and csv
        text = render_json(report)
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    name = report_name(code, report["month"], fmt)
    with _progress("write") as (_step, row):
        path = write_report(
            report,
            fmt,
            export_path(out, name, fmt),
            lang=lang,
            progress=row,
            force=force,
            default_name=name,
            protect=(protect,),
        )
    typer.echo(str(path))


@report_app.command("monthly")
@handle_errors
def monthly(
    month: str | None = typer.Option(None, "--month", help=MONTH_HELP),
    fmt: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
    out: str | None = typer.Option(None, "--out", "-o", help=OUT_HELP),  # as typed (usb/)
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """This station's monthly summary 本站月报."""
    m, f = _check_month_format(month, fmt, out)
    from qi_station.reports.figures import monthly_report

    db = station_db()
    with _progress("report") as (step, _row):
        report = monthly_report(db, m, progress=step)
    _emit(report, f, out, report["station"]["code"], force, db)


@report_app.command("rebuild")
@handle_errors
def rebuild() -> None:
    """Compute the month rollup again from the ledger 重建月报汇总 (the figures do not change)."""
    from qi_station.reports.ledger import rebuild_rollup

    out = rebuild_rollup(station_db())
    typer.echo(f"rebuilt: {out['rows']} rows, {out['changed']} differed from the kept rollup")


def _hub_report(database_url: str | None, month: str, code: str | None) -> dict[str, Any]:
    """The hub's monthly report (the province, or one station's with ``code``)."""
    from qi_station.core.errors import DatabaseError
    from qi_station.db.paths import default_hub_url
    from qi_station.reports.figures import monthly_report

    url = default_hub_url(database_url)
    if url.startswith("sqlite:///"):
        p = Path(url[len("sqlite:///") :])
        if not p.is_file():
            raise DatabaseError(f"hub database not found: {p}")
    try:
        with _progress("report") as (step, _row):
            return monthly_report(url, month, station=code, hub=True, progress=step)
    except Exception as e:  # noqa: BLE001 - connection / schema problems become one message
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(e, SQLAlchemyError):
            raise DatabaseError(f"cannot read the hub database: {getattr(e, 'orig', None) or e}") from e
        raise


@hub_report_app.command("monthly")
@handle_errors
def hub_monthly(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Hub database URL (default: QI_HUB_DATABASE_URL or the user data dir)."
    ),
    month: str | None = typer.Option(None, "--month", help=MONTH_HELP),
    station: str | None = typer.Option(None, "--station", help="One station's report (its code)."),
    fmt: str | None = typer.Option(None, "--format", help=FORMAT_HELP),
    out: str | None = typer.Option(None, "--out", "-o", help=OUT_HELP),  # as typed (usb/)
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Province-wide monthly summary: per station, per city, province 全省月报."""
    m, f = _check_month_format(month, fmt, out)
    code = station.strip().upper() if station is not None else None
    report = _hub_report(database_url, m, code)
    _emit(report, f, out, code or "province", force)


@hub_report_app.command("rebuild")
@handle_errors
def hub_rebuild(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Hub database URL (default: QI_HUB_DATABASE_URL or the user data dir)."
    ),
) -> None:
    """Compute the hub's month rollup again from the ledger (the figures do not change)."""
    from qi_station.db.paths import default_hub_url
    from qi_station.reports.ledger import rebuild_rollup

    out = rebuild_rollup(default_hub_url(database_url))
    typer.echo(f"rebuilt: {out['rows']} rows, {out['changed']} differed from the kept rollup")


INDICATOR_FORMAT_HELP = "table (default), json, csv (UTF-8 with BOM), xlsx or md."


def _emit_indicators(
    report: dict[str, Any],
    fmt: str,
    out: str | Path | None,
    stem: str,
    force: bool,
    protect: Path | None = None,
) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.reports.indicator_out import INDICATOR_FORMATS, render_indicators, write_indicators
    from qi_station.services.files import export_path

    f = (fmt or "").strip().lower()
    if f not in INDICATOR_FORMATS:
        raise ValidationError(
            "format",
            "choice",
            f"--format must be one of {', '.join(INDICATOR_FORMATS)}: {fmt!r} / 导出格式无效",
        )
    lang = "en" if OPTS.lang == "en" else "zh"
    if out is None and f in ("table", "json", "md"):
        sys.stdout.write(render_indicators(report, f, lang))
        sys.stdout.flush()
        return
    ext = "md" if f == "table" else f
    path = export_path(out, f"{stem}.{ext}", ext)  # no --out: the export folder, never the cwd
    written = write_indicators(
        report, f, path, lang, force=force, default_name=f"{stem}.{ext}", protect=(protect,)
    )
    typer.echo(str(written))


@report_app.command("indicators")
@handle_errors
def indicators(
    month: str | None = typer.Option(None, "--month", help=MONTH_HELP),
    fmt: str = typer.Option("table", "--format", help=INDICATOR_FORMAT_HELP),
    out: str | None = typer.Option(None, "--out", "-o", help=OUT_HELP),  # as typed (usb/)
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """This station's indicators of a month (data/indicators/default.toml) 本站指标."""
    m = _check_month(month)
    from qi_station.reports.figures import monthly_report

    db = station_db()
    report = monthly_report(db, m)
    stem = f"qi-indicators-{report['station']['code'] or 'station'}-{m}"
    _emit_indicators(report, fmt, out, stem, force, db)


@hub_report_app.command("indicators")
@handle_errors
def hub_indicators(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Hub database URL (default: QI_HUB_DATABASE_URL or the user data dir)."
    ),
    month: str | None = typer.Option(None, "--month", help=MONTH_HELP),
    station: str | None = typer.Option(None, "--station", help="One station's indicators (its code)."),
    fmt: str = typer.Option("table", "--format", help=INDICATOR_FORMAT_HELP),
    out: str | None = typer.Option(None, "--out", "-o", help=OUT_HELP),  # as typed (usb/)
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Province-wide (or one station's) indicators of a month 全省指标."""
    m = _check_month(month)
    code = station.strip().upper() if station is not None else None
    report = _hub_report(database_url, m, code)
    _emit_indicators(report, fmt, out, f"qi-indicators-{code or 'province'}-{m}", force)
