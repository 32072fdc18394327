"""The staff page's files: shipped in the package, nothing from the network, AA contrast."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

STATIC = resources.files("cityid_card.desk") / "static"


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def test_the_vendored_qr_decoder_is_the_published_one() -> None:
    sources = _text("vendor/SOURCES")
    digest = hashlib.sha256((STATIC / "vendor" / "jsQR.js").read_bytes()).hexdigest()
    assert f"{digest}  jsQR.js" in sources
    assert "Apache License" in _text("vendor/jsQR.LICENSE")


@pytest.mark.parametrize("name", ["index.html", "app.js", "style.css"])
def test_no_file_loads_anything_from_another_host(name: str) -> None:
    text = _text(name)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "localStorage" not in text and "document.cookie" not in text


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, two: str) -> float:
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_aa() -> None:
    css = _text("style.css")
    colours = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", css))
    white = "#ffffff"
    # The verdict panels carry white text; AAA (7:1) for the big result, AA elsewhere.
    for panel in ("valid", "invalid", "idle"):
        assert _contrast(colours[panel], white) >= 7.0, panel
    assert _contrast(colours["ink"], colours["paper"]) >= 4.5
    assert _contrast(colours["muted"], colours["paper"]) >= 4.5
    assert _contrast(colours["invalid"], colours["paper"]) >= 4.5  # a stale status list
    # The focus ring, drawn just outside an element on the page, must stand out (3:1).
    assert _contrast(colours["focus"], colours["paper"]) >= 3.0


def test_the_vendored_accessibility_engine_is_the_published_one() -> None:
    from pathlib import Path

    vendor = Path(__file__).parent / "vendor"
    digest = hashlib.sha256((vendor / "axe.min.js").read_bytes()).hexdigest()
    assert f"{digest}  axe.min.js" in (vendor / "SOURCES").read_text(encoding="utf-8")
