"""The footer of every screen: Textual's ``Footer``, recomposed at most once per refresh.

Textual's footer rebuilds all its keys (``recompose``) after every change of the bindings, one rebuild
per change even when several come before the next refresh: five while the first screen starts (mount,
focus, screen resume, the app's readiness, ...). The keys are read from the screen's bindings when the
rebuild runs, so one rebuild after the last change shows the same footer.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class StationFooter(Footer):
    _rebuild_pending = False

    def bindings_changed(self, screen: Any) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        await self.recompose()
