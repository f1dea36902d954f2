"""A Textual stylesheet that parses each CSS source once per set of variables (theme).

Textual re-parses every source it holds (the app's, each screen's and every widget's ``DEFAULT_CSS``)
from scratch in ``Stylesheet.reparse``, which it calls three times when a screen is first shown (the
screen's CSS file, then ``refresh_css`` in ``App._init_mode`` and again in ``App.switch_mode``): the
first frame parsed the dashboard's sources four times, F3 the ledger's and all before them three
times more. Parsing depends only on a source's text, where it came from and the CSS variables, so the
rule sets parsed once are kept here, per variables, and reused; the rules come out the same.
"""

from __future__ import annotations

from typing import Any

from textual.css.stylesheet import Stylesheet


class CachedStylesheet(Stylesheet):
    def __init__(
        self, *, variables: dict[str, str] | None = None, parsed: dict[tuple[Any, ...], Any] | None = None
    ) -> None:
        super().__init__(variables=variables)
        self._parsed: dict[tuple[Any, ...], Any] = {} if parsed is None else parsed
        self._variables_key: tuple[tuple[str, str], ...] | None = None

    def set_variables(self, variables: dict[str, str]) -> None:
        super().set_variables(variables)
        self._variables_key = None

    def _parse_rules(  # type: ignore[override]
        self,
        css: str,
        read_from: Any,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> Any:
        if self._variables_key is None:
            self._variables_key = tuple(sorted(self._variables.items()))
        key = (self._variables_key, css, read_from, is_default_rules, tie_breaker, scope)
        rules = self._parsed.get(key)
        if rules is None:
            rules = super()._parse_rules(css, read_from, is_default_rules, tie_breaker, scope)
            self._parsed[key] = rules
        return rules

    def reparse(self) -> None:
        """``Stylesheet.reparse`` (a fresh stylesheet, so an error leaves this one as it was), sharing the
        parsed rule sets."""
        fresh = CachedStylesheet(variables=self._variables, parsed=self._parsed)
        for read_from, (css, is_defaults, tie_breaker, scope) in self.source.items():
            fresh.add_source(
                css, read_from=read_from, is_default_css=is_defaults, tie_breaker=tie_breaker, scope=scope
            )
        try:
            fresh.parse()
        except Exception:
            self._invalid_css.update(fresh._invalid_css)
            raise
        self._rules = fresh.rules
        self._rules_map = None
        self.source = fresh.source
        self._require_parse = False
