"""One fix to Textual's internals, applied once when the console is imported, with a canary test.

Textual (8.2) turns a Rich style into SGR escape codes in ``Strip.render_ansi``, an
``lru_cache`` of 16,384 entries keyed on the style. Every segment of a ``Content``
(Static, Label, the status line) carries the segment's ``offset`` (x, y) in its style's
meta for text selection, and Rich styles hash and compare their meta, so the cache gets
one entry per (colours, attributes, x, y) ever painted. A console whose texts change every
second keeps adding entries, each holding a Style, its Colors and its pickled meta, until
16,384: measured in a real terminal (``bench/console_memory.py --mode pty``), about +10 %
RSS an hour after the history has filled, still climbing. Only the real terminal driver
calls it; headless tests never do.

The SGR codes depend on the colours and attributes only, so the cache is keyed on the
style without its meta and links: one entry per distinct look. The codes produced are
the same (``tests/test_textual_patches.py`` compares them and fails if the internals
this relies on move).
"""

from __future__ import annotations

from rich.style import Style
from textual.strip import Strip

_PATCHED = "_streamflow_keyed_without_meta"


def _cached_render_ansi():
    """Textual's own lru_cache-wrapped ``render_ansi``, or None when its shape has changed."""
    method = Strip.__dict__.get("render_ansi")
    function = getattr(method, "__func__", None)
    if not isinstance(method, classmethod) or not hasattr(function, "cache_info"):
        return None
    return function


def key_render_ansi_without_meta() -> bool:
    """Patch ``Strip.render_ansi``; True when the patch is in place (idempotent).

    False means Textual's internals moved: the console then runs unpatched (correct, only
    with the slow memory growth) and the canary test says what moved.
    """
    if getattr(getattr(Strip.__dict__.get("render_ansi"), "__func__", None), _PATCHED, False):
        return True
    cached = _cached_render_ansi()
    if cached is None or not all(hasattr(Style(), name) for name in ("_meta", "_link", "_ansi")):
        return False

    def render_ansi(cls, style: Style, color_system) -> str:
        key = style.clear_meta_and_links() if (style._meta is not None or style._link) else style
        ansi = style._ansi = cached(cls, key, color_system)
        return ansi

    setattr(render_ansi, _PATCHED, True)
    render_ansi.cache = cached  # type: ignore[attr-defined]  # for the canary test: the lru_cache underneath
    Strip.render_ansi = classmethod(render_ansi)  # type: ignore[method-assign,assignment]  # the patch itself
    return True
