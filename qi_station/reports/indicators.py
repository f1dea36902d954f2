"""Indicators (指标): a definition file (TOML) of first-level → second-level → statistical indicators,
each a named figure of the monthly report or a formula over named figures, with unit and direction;
evaluated on a monthly report (station or hub). Every indicator is defined in its file; the shipped
default (``data/indicators/default.toml``) maps the station's own figures onto the provincial QI
capability index's 4 / 11 / 32 shape and is the default the province replaces.

Formulas are evaluated by a whitelist over Python's ``ast`` (numbers, names, ``+ - * /``, unary minus,
parentheses): never ``eval``. A missing figure or a division by zero gives no value (``None``).
"""

from __future__ import annotations

import ast
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qi_station.core.errors import ValidationError
from qi_station.reports.labels import headline_values

DIRECTIONS = ("higher", "lower")
DEFAULT_FILE = "default.toml"
MAX_FORMULA = 500


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    unit: str
    direction: str
    figure: str | None  # a named figure, or
    formula: str | None  # a formula over named figures
    level1: str  # "id name" of its first-level indicator
    level2: str  # "id name" of its second-level indicator


@dataclass(frozen=True)
class IndicatorSet:
    title: str
    source: str
    indicators: tuple[Indicator, ...]
    level1: tuple[tuple[str, str], ...]  # (id, name)
    level2: tuple[tuple[str, str, str], ...]  # (level-1 id, id, name)


_ZERO_PREFIXES = ("element_", "channel_", "referrals_", "activity_", "satisfaction_")


# ---- the named figures of a report -------------------------------------------------------------------
def figure_values(report: dict[str, Any]) -> dict[str, float | int | None]:
    """Every named figure of a monthly report (station, city, province or one hub station), flat: the
    names an indicator file may use (listed in docs/reports.md)."""
    hv = headline_values(report)
    # counts a report lists only when not zero (elements, channels, levels, kinds) are 0 when absent
    out: dict[str, float | int | None] = {k: 0 for k in known_names() if k.startswith(_ZERO_PREFIXES)}
    out.update({k: v for k, v in hv.items() if k != "rate"})
    out["satisfaction_rate"] = hv["rate"]
    for lvl, n in (report.get("satisfaction_levels") or {}).items():
        out[f"satisfaction_{lvl}"] = n
    for group, prefix in (("by_element", "element_"), ("by_channel", "channel_")):
        for code, n in (report.get(group) or {}).items():
            out[prefix + code] = n
    for kind, n in ((report.get("referrals") or {}).get("counts") or {}).items():
        out[f"referrals_{kind}"] = n
    acts = report.get("activities") or {}
    for kind, vals in acts.items():
        for k, n in vals.items():
            out[f"activity_{kind}_{k}"] = n
    out["activities_count"] = sum(v.get("count", 0) for v in acts.values())
    out["activity_enterprises"] = sum(v.get("enterprises", 0) for v in acts.values())
    out["activity_people"] = sum(v.get("people", 0) for v in acts.values())
    return out


def known_names() -> set[str]:
    """Every figure name an indicator may use (a report may leave some out: they count 0)."""
    from qi_station.core import domain
    from qi_station.core.activity import ACTIVITY_KINDS
    from qi_station.reports.labels import HEADLINE

    names = {k for k in HEADLINE if k != "rate"} | {"satisfaction_rate", "activities_count"}
    names |= {"activity_enterprises", "activity_people"}
    names |= {f"satisfaction_{i}" for i in range(1, 6)}
    names |= {f"element_{e}" for e in domain.ELEMENTS} | {f"channel_{c}" for c in domain.CHANNELS}
    names |= {f"referrals_{k}" for k in ("expert", "institution", "equipment", "project")}
    names |= {f"activity_{k}_{f}" for k in ACTIVITY_KINDS for f in ("count", "enterprises", "people")}
    return names


# ---- the safe formula evaluator -----------------------------------------------------------------------
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


#: the largest number a formula may write (a figure of a month is far smaller)
MAX_CONSTANT = 1e12


def parse_formula(text: str, field: str = "formula") -> ast.Expression:
    """A formula as an ``ast.Expression`` of numbers, names, ``+ - * /``, unary ``-`` / ``+`` only."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_FORMULA:
        raise ValidationError(field, "formula", f"a formula of 1..{MAX_FORMULA} characters / 公式无效")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValidationError(field, "formula", f"not a formula: {text!r} / 公式语法错误") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Expression | ast.Name | ast.Load | ast.UnaryOp | ast.UAdd | ast.USub):
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
            continue
        if isinstance(node, _BINOPS):
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            num = node.value
            if isinstance(num, int | float) and abs(num) <= MAX_CONSTANT:  # NaN and inf fail too
                continue
            raise ValidationError(
                field,
                "formula",
                f"a number in a formula is at most {MAX_CONSTANT:g}: {text!r} / 公式中的数字过大",
            )
        raise ValidationError(
            field,
            "formula",
            f"only numbers, figure names, + - * / and parentheses are allowed: {text!r} / 公式只允许数字、指标名和四则运算",
        )
    return tree


def formula_names(tree: ast.Expression) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def evaluate(tree: ast.Expression, values: dict[str, float | int | None]) -> float | None:
    """The formula's value; ``None`` when a figure has no value, a divisor is zero or the result is not
    a finite number."""

    def ev(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            got = values.get(node.id)
            return None if got is None else float(got)
        if isinstance(node, ast.UnaryOp):
            x = ev(node.operand)
            return None if x is None else (-x if isinstance(node.op, ast.USub) else x)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return None if b == 0 else a / b
        raise ValidationError(
            "formula", "formula", "unexpected formula element / 公式无效"
        )  # parse refused it

    try:
        got = ev(tree)
    except OverflowError:
        return None
    return got if got is None or math.isfinite(got) else None  # never inf or NaN (not JSON)


# ---- the definition file ------------------------------------------------------------------------------
def default_path() -> Path:
    from qi_station.db.paths import repo_data_dir

    return repo_data_dir() / "indicators" / DEFAULT_FILE


def _text(d: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or not v.strip():
        raise ValidationError(key, "required", f"{where}: {key} is required / 指标定义缺少 {key}")
    return v.strip()


def parse_indicators(doc: dict[str, Any]) -> IndicatorSet:
    """Check a parsed definition file: ids unique, every indicator a known figure or a safe formula over
    known figures, a unit, a direction (higher | lower)."""
    names = known_names()
    inds: list[Indicator] = []
    l1s: list[tuple[str, str]] = []
    l2s: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def unique(i: str) -> str:
        if i in seen:
            raise ValidationError("id", "unique", f"indicator id {i!r} appears twice / 指标编号重复")
        seen.add(i)
        return i

    for a in doc.get("level1") or []:
        a1 = unique(_text(a, "id", "level1"))
        n1 = _text(a, "name", f"level1 {a1}")
        l1s.append((a1, n1))
        for b in a.get("level2") or []:
            b1 = unique(_text(b, "id", f"level2 of {a1}"))
            n2 = _text(b, "name", f"level2 {b1}")
            l2s.append((a1, b1, n2))
            for c in b.get("indicator") or []:
                cid = unique(_text(c, "id", f"indicator of {b1}"))
                where = f"indicator {cid}"
                fig = c.get("figure")
                formula = c.get("formula")
                if (fig is None) == (formula is None):
                    raise ValidationError(
                        "figure",
                        "one_of",
                        f"{where}: give exactly one of figure, formula / 须给出 figure 或 formula 之一",
                    )
                used = {fig} if isinstance(fig, str) else formula_names(parse_formula(str(formula)))
                unknown = sorted(used - names)
                if unknown:
                    raise ValidationError(
                        "figure", "known_figure", f"{where}: unknown figure {unknown[0]!r} / 未知的统计数据名"
                    )
                direction = _text(c, "direction", where)
                if direction not in DIRECTIONS:
                    raise ValidationError(
                        "direction",
                        "choice",
                        f"{where}: direction is higher or lower / 方向应为 higher 或 lower",
                    )
                inds.append(
                    Indicator(
                        id=cid,
                        name=_text(c, "name", where),
                        unit=_text(c, "unit", where),
                        direction=direction,
                        figure=fig if isinstance(fig, str) else None,
                        formula=str(formula) if formula is not None else None,
                        level1=f"{a1} {n1}",
                        level2=f"{b1} {n2}",
                    )
                )
    if not inds:
        raise ValidationError(
            "indicator", "required", "the file defines no indicator / 指标文件中没有统计指标"
        )
    return IndicatorSet(
        title=str(doc.get("title") or ""),
        source=str(doc.get("source") or ""),
        indicators=tuple(inds),
        level1=tuple(l1s),
        level2=tuple(l2s),
    )


#: the reference document the hub distributes (``qi-station hub indicators import``): kind and key
REFERENCE_KIND, REFERENCE_KEY = "indicators", "current"


def load_indicators(path: Path | None = None, *, body: str | None = None) -> IndicatorSet:
    """THE loader of the indicator definitions: ``path``; else ``body`` (the text of the copy the hub
    distributed, as a database holds it: :func:`distributed_body`); else the shipped default
    (``data/indicators/default.toml``). Every source is checked whole (:func:`parse_indicators`)."""
    if body is not None and path is None:
        try:
            doc = tomllib.loads(body)
        except tomllib.TOMLDecodeError as e:
            raise ValidationError(
                "indicators",
                "toml",
                f"the hub's indicator definitions: not valid TOML ({e}) / 指标定义格式错误",
            ) from None
        return parse_indicators(doc)
    p = Path(path) if path is not None else default_path()
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ValidationError(
            "indicators", "missing", f"indicator file not found: {p} / 未找到指标定义文件"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ValidationError(
            "indicators", "toml", f"{p}: not valid TOML ({e}) / 指标定义文件格式错误"
        ) from None
    return parse_indicators(doc)


def distributed_body(conn: Any) -> str | None:
    """The indicator definitions the hub distributed, as this database (station or hub) holds them
    (``reference`` row ``indicators:current``), or None (the shipped default applies)."""
    from sqlalchemy import text

    row = conn.execute(
        text("SELECT body FROM reference WHERE kind = :k AND key = :key AND NOT deleted").bindparams(
            k=REFERENCE_KIND, key=REFERENCE_KEY
        )
    ).first()
    return str(row[0]) if row else None


def check_reference(key: str, body: str) -> IndicatorSet:
    """The check of a distributed indicator document (``core.reference.check``): the one key, and the
    definitions whole, as :func:`load_indicators` reads them."""
    if key != REFERENCE_KEY:
        raise ValidationError(
            "key",
            "choice",
            f"indicator documents use the key {REFERENCE_KEY!r} / 指标定义的键应为 {REFERENCE_KEY}",
        )
    return load_indicators(body=body)


def register_reference() -> None:
    """Make ``indicators`` a reference kind the hub checks before it stores one (its check needs the
    report's figure names, so it lives here, not in the core)."""
    from qi_station.core import reference

    reference.CHECKS.setdefault(REFERENCE_KIND, check_reference)


def indicator_values(report: dict[str, Any], spec: IndicatorSet) -> list[dict[str, Any]]:
    """Each indicator of ``spec`` on ``report``: id, level1, level2, name, value (rounded to 4 places,
    None when not computable), unit, direction and its definition (figure or formula)."""
    values = figure_values(report)
    out = []
    for ind in spec.indicators:
        val: float | int | None
        if ind.figure is not None:
            val = values.get(ind.figure)  # as the report gives it (a count stays a whole number)
        else:
            val = evaluate(parse_formula(str(ind.formula)), values)
        out.append(
            {
                "id": ind.id,
                "level1": ind.level1,
                "level2": ind.level2,
                "name": ind.name,
                "value": round(val, 4) if isinstance(val, float) else val,
                "unit": ind.unit,
                "direction": ind.direction,
                "definition": ind.figure or ind.formula,
            }
        )
    return out
