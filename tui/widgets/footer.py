"""The wizard's footer: keys that do not fit are left out whole, least needed first, never cut mid-word.

Textual's Footer lays the keys out in one row and lets the last ones run under the palette key docked
at the right, so at 80 columns the step's own key read "^x Ca". Here, once the keys have their sizes,
the ones the screen offers elsewhere too (Help, Next and Back are buttons on every step) are hidden
until the rest fit; the step's own keys (Start, Cancel, Check cluster) are never dropped.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Dropped first to last when the row is too narrow. Keys not named here (each step's own) always stay.
DROP_ORDER: tuple[str, ...] = ("f1", "ctrl+n", "escape", "ctrl+y", "ctrl+q", "ctrl+s")


def key_width(key: FooterKey) -> int:
    """Columns the key takes: its label and the compact footer's margin after it."""
    return key.render().cell_len + key.styles.margin.right + key.styles.margin.left


class FittingFooter(Footer):
    def compose(self) -> ComposeResult:
        yield from super().compose()
        self.call_after_refresh(self.fit)

    def on_resize(self, _event: Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Show every key that fits in the row beside the palette key, dropping whole keys by DROP_ORDER."""
        if not self.is_attached or self.size.width <= 0:
            return
        keys = [k for k in self.query_children(FooterKey) if not k.has_class("-command-palette")]
        room = self.size.width
        for palette in self.query_children(FooterKey).filter(".-command-palette"):
            room -= key_width(palette) + 1  # its left border
        widths = {id(k): key_width(k) for k in keys}
        total = sum(widths.values())
        for key in keys:
            key.display = True
        for name in DROP_ORDER:
            if total <= room:
                break
            for key in keys:
                if key.key == name and key.display:
                    key.display = False
                    total -= widths[id(key)]


__all__ = ["DROP_ORDER", "FittingFooter", "key_width"]
