"""Canary for the one Textual internal the console patches (``Strip.render_ansi``'s cache key).

If Textual moves what the patch relies on, the first test fails saying what moved; the
others prove the patch bounds the cache and changes no byte the terminal receives.
"""

from __future__ import annotations

import textual
from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

import streamflow_tui.app  # noqa: F401  (importing the console applies the patch)
from streamflow_tui.textual_patches import key_render_ansi_without_meta


def _sgr_unpatched(style: Style, color_system: ColorSystem) -> str:
    """What Textual's own code computes, on a fresh copy so no cached ``_ansi`` is reused."""
    fresh = style.copy()
    fresh._ansi = None
    return Strip.render_ansi.cache.__wrapped__(Strip, fresh, color_system)


def test_the_internals_the_patch_relies_on_are_where_they_were():
    method = Strip.__dict__.get("render_ansi")
    assert method is not None, f"textual {textual.__version__}: Strip.render_ansi is gone"
    assert isinstance(method, classmethod), f"textual {textual.__version__}: Strip.render_ansi is not a classmethod"
    assert key_render_ansi_without_meta(), (
        f"textual {textual.__version__}: Strip.render_ansi is no longer an lru_cache classmethod, or Rich "
        "styles lost _meta/_link/_ansi; the console runs unpatched: re-measure bench/console_memory.py --mode pty"
    )
    assert hasattr(Strip.render_ansi.cache, "cache_info") and hasattr(Strip.render_ansi.cache, "__wrapped__")
    callers = Strip.render_style.__code__.co_names
    assert "render_ansi" in callers and "_ansi" in callers, (
        f"textual {textual.__version__}: Strip.render_style no longer goes through style._ansi / render_ansi"
    )


def test_styles_that_differ_only_in_meta_share_one_cache_entry():
    cache = Strip.render_ansi.cache
    look = Style(color="#ff8800", bgcolor="#101010", bold=True)
    before = cache.cache_info().currsize
    for x in range(2_000):  # what a changing Static paints: one offset per cell
        styled = look + Style.from_meta({"offset": (x, 7)})
        Strip.render_ansi(styled, ColorSystem.TRUECOLOR)
    assert cache.cache_info().currsize - before <= 1


def test_the_codes_are_the_ones_textual_computes():
    looks = [
        Style(),
        Style(color="red"),
        Style(color="#123456", bgcolor="#abcdef", italic=True, underline=True),
        Style(bold=True, dim=True, reverse=True, link="https://example.invalid/x"),
    ]
    for look in looks:
        for system in (ColorSystem.STANDARD, ColorSystem.EIGHT_BIT, ColorSystem.TRUECOLOR):
            with_meta = look + Style.from_meta({"offset": (3, 4)})
            assert Strip.render_ansi(with_meta, system) == _sgr_unpatched(look, system)
            assert with_meta._ansi == _sgr_unpatched(look, system)


def test_a_whole_strip_renders_to_the_same_bytes():
    looks = [("abc", Style(color="green")), ("def", Style(bold=True, bgcolor="#202020"))]
    strip = Strip(
        [Segment(text, look + Style.from_meta({"offset": (3 * i, 1)})) for i, (text, look) in enumerate(looks)]
    )
    expected = "".join(f"\x1b[{_sgr_unpatched(look, ColorSystem.TRUECOLOR)}m{text}\x1b[0m" for text, look in looks)
    assert strip.render(Console(color_system="truecolor", force_terminal=True)) == expected


def test_the_footer_internals_the_key_footer_relies_on_are_where_they_were():
    """widgets/footer.py fits the compact footer's keys to the width: it relies on Textual's private
    ``textual.widgets._footer.FooterKey`` (its ``key_display`` and ``description``, its ``-command-palette``
    class) and on ``Footer.compose`` yielding those keys. Fails with the version found when they move."""
    import pytest
    from textual.widgets import Footer

    try:
        from textual.widgets._footer import FooterKey
    except ImportError as exc:
        pytest.fail(f"Textual {textual.__version__}: FooterKey moved ({exc}); widgets/footer.py needs a look")
    key = FooterKey("ctrl+p", "^p", "palette", "command_palette")
    assert (key.key_display, key.description) == ("^p", "palette"), f"Textual {textual.__version__}"
    assert callable(Footer.compose), f"Textual {textual.__version__}"
