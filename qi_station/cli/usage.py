"""Typer/Click's own refusals (a bad option value, an unknown option, a missing argument) in the
project's form: ``error: FIELD: message [rule]`` on stderr, exit 2 — the same contract as a
``ValidationError`` (``kit.handle_errors``), for every command, since the root group converts them.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

try:  # Typer ≥ 0.20 vendors Click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older Typer uses Click itself
    from click import exceptions as _cx  # type: ignore[no-redef]


class CliInputError(_cx.ClickException):  # type: ignore[misc,name-defined]
    """A command-line mistake, shown in the project's form; exit 2 like any bad input."""

    exit_code = 2

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule = field, rule

    def format_message(self) -> str:
        return f"error: {self.field}: {self.message} [{self.rule}]"

    def show(self, file: Any = None) -> None:
        from qi_station.cli.kit import error

        error(self.format_message())


def _field(e: Any) -> str:
    param = getattr(e, "param", None)
    if param is None:
        return str(getattr(e, "option_name", None) or "command")
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    if getattr(param, "param_type_name", "") == "option" and opts:
        return max(opts, key=len)
    return str(param.name)


def _bound(ctx: dict[str, Any]) -> tuple[str, str, Any]:
    for key, en, zh in (("ge", "at least", "不能小于"), ("le", "at most", "不能大于")):
        if key in ctx:
            return en, zh, ctx[key]
    for key, en, zh in (("gt", "more than", "须大于"), ("lt", "less than", "须小于")):
        if key in ctx:
            return en, zh, ctx[key]
    return "within range", "超出范围", ""


def _bad_value(e: Any) -> tuple[str, str]:
    """(rule, message) for a value the option's type refused."""
    cause = e.__cause__
    errors = cause.errors() if hasattr(cause, "errors") else []
    if not errors:
        return "value", f"{e.message} / 取值无效"
    first = errors[0]
    kind, got = str(first.get("type", "")), first.get("input")
    if kind.startswith("int_"):
        return "integer", f"{got!r} is not a whole number / 「{got}」不是整数"
    if kind.startswith("float_") or kind.startswith("decimal_"):
        return "number", f"{got!r} is not a number / 「{got}」不是数字"
    if kind.startswith(("greater_than", "less_than")):
        en, zh, limit = _bound(first.get("ctx") or {})
        return "range", f"{got!r}: must be {en} {limit} / 「{got}」{zh} {limit}"
    if kind.startswith("bool_"):
        return "boolean", f"{got!r} is not yes or no / 「{got}」不是是/否"
    if kind in ("enum", "literal_error"):
        return "choice", f"{got!r}: {first.get('msg', '')} / 「{got}」不在可选值中"
    return "value", f"{got!r}: {first.get('msg', e.message)} / 「{got}」取值无效"


def convert(e: Any) -> CliInputError:
    """The project's form of one Click usage error."""
    hint = f" (see `{e.ctx.command_path} --help`)" if getattr(e, "ctx", None) is not None else ""
    if isinstance(e, _cx.MissingParameter):
        return CliInputError(_field(e), "required", f"is required / 必须填写{hint}")
    if isinstance(e, _cx.BadParameter):
        rule, message = _bad_value(e)
        return CliInputError(_field(e), rule, message)
    if isinstance(e, _cx.NoSuchOption):
        return CliInputError(_field(e), "unknown_option", f"{e.message} / 没有这个选项{hint}")
    if isinstance(e, _cx.BadOptionUsage):
        return CliInputError(_field(e), "needs_value", f"{e.message} / 缺少取值{hint}")
    return CliInputError("command", "usage", f"{e.message} / 命令用法有误{hint}")


def _refusal(e: Exception) -> bool:
    return isinstance(e, _cx.UsageError) and not isinstance(e, _cx.NoArgsIsHelpError)


class QIGroup(TyperGroup):
    """The root group: a usage error anywhere below it (its own options, a sub-command's) is
    raised again as a :class:`CliInputError`, which Typer shows and exits with."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as e:
            if _refusal(e):
                raise convert(e) from None
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            if _refusal(e):
                raise convert(e) from None
            raise


__all__ = ["CliInputError", "QIGroup", "convert"]
