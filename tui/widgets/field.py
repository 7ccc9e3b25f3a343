"""The wizard's text field: an Input whose own editing keys act in the order they were typed.

Textual runs an Input's key bindings (Backspace, Delete, the arrows, Home/End, Ctrl+W …) only after the
key has bubbled up to the App, one message queue at a time, while printable keys are inserted by the
Input at once. When keys arrive faster than that round trip (a held Backspace, a paste without
bracketed paste, a fast typist on a loaded machine) the letters typed after a Backspace land before it
runs, and the Backspace then deletes one of them: "/walk/c/pki" became "/walk/pki", "admin" "sadmi"
(issue 26). Here the Input's own bindings run as the key reaches it, so every keystroke lands in order;
keys the Input does not bind (Esc, Ctrl+N, F1 …) still go on to the screen and the App.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class Field(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                # Priority bindings are the App's, run before the key ever got here.
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
