"""A CLI call's start-up (issue 13): Typer without Pydantic where no value needs it, and only the
command group the call names imported and turned into Click commands (:func:`command_called`).

Typer ≥ 0.2x coerces every parameter through a Pydantic ``TypeAdapter``, built the first time the
parameter is processed, even when the value is ``None`` or already a plain ``str``: importing
Pydantic and building the adapters is ~0.15 s of every ``qi-station`` call. :func:`install` wraps
Typer's ``build_runtime_param`` so a parameter's adapter is built only when a value really needs it:

* ``None`` (an option not given): ``None`` (``()`` for a multiple option), as Typer's ``coerce`` does;
* a ``str`` value for a ``str`` parameter with no ``parser``: the value itself, as Typer's str adapter
  (``_parse_cli_str``: ``str(value)``) gives it;
* a ``str`` value for a plain ``Path`` parameter: ``Path(value)`` and then Typer's own path checks
  (``coerce_cli_path``: exists, file_okay, resolve_path …), as its path adapter does;
* anything else (numbers, choices, parsers, files, lists): Typer's own coercion, unchanged, so its
  messages (and the CLI's own int messages) are Typer's.

Guarded: if Typer's internals are not what this expects, nothing is changed (only slower).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_installed = False


class _LazyParam:
    """Typer's runtime parameter, built only when a value needs more than the cases above."""

    def __init__(self, descriptor: Any, build: Any, coerce_path: Any) -> None:
        self.descriptor = descriptor
        self.parameter_info = descriptor.parameter_info
        self.annotation = descriptor.annotation
        self._build = build
        self._coerce_path = coerce_path
        self._real: Any = None

    def real(self) -> Any:
        if self._real is None:
            self._real = self._build(self.descriptor)
        return self._real

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        info, ann = self.parameter_info, self.annotation
        if value is None and self.descriptor.file_annotation is None:
            return () if (param.multiple or param.nargs == -1) else None
        plain = (
            isinstance(value, str)
            and info.parser is None
            and not param.multiple
            and param.nargs == 1
            and self.descriptor.file_annotation is None
        )
        if plain and ann is str:
            return value
        if plain and ann is Path and value and info.path_type is None:
            return self._coerce_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return self.real().coerce(value, param=param, ctx=ctx)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        return self.real()._coerce_value(value, param=param, ctx=ctx)


def install() -> None:
    """Make Typer build its Pydantic coercion lazily (once per process; idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from typer import core
        from typer._coercion import build_runtime_param
        from typer._param_types import coerce_cli_path
    except ImportError:  # another Typer: leave it as it is
        return
    if getattr(core, "build_runtime_param", None) is not build_runtime_param:
        return

    def lazy(descriptor: Any) -> Any:
        return _LazyParam(descriptor, build_runtime_param, coerce_cli_path)

    core.build_runtime_param = lazy  # type: ignore[attr-defined]


# root options that take a value (``--db X``); any other option before the command stops the pruning
VALUE_OPTIONS = ("--db", "--lang", "--operator")


def _words(argv: list[str]) -> list[str]:
    """``argv`` from its first word that is neither a root option nor a root option's value on."""
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        tok = rest.pop(0)
        if tok in VALUE_OPTIONS and rest:
            rest.pop(0)
    return rest


def subcommand_called(argv: list[str]) -> str | None:
    """The word after the command group a call names (``list`` in ``--db X request list``; read where
    :func:`command_called` named a group), None when an option follows the group's name or nothing does."""
    rest = _words(argv)[1:]
    return rest[0] if rest and not rest[0].startswith("-") else None


def command_called(argv: list[str]) -> str | None:
    """The command ``argv`` names (``request`` in ``--db X request list``), ``""`` when it only asks for
    ``--version``, None when it cannot tell without Click (``--help``, another option first, no command):
    :func:`qi_station.cli.commands.app_for` builds only what that command needs."""
    if "--help" in argv:
        return None
    rest = list(argv)
    while rest:
        tok = rest.pop(0)
        if tok in VALUE_OPTIONS:
            if not rest:
                return None
            rest.pop(0)
        elif tok == "--version":
            return ""  # eager: shown (and the call ends) before any command is looked up
        elif tok.startswith("-"):
            if tok.split("=", 1)[0] not in VALUE_OPTIONS or "=" not in tok:
                return None
        else:
            return tok
    return None
