"""QR codes as inline SVG that stay whole, square and sharp at whatever size CSS gives them.

Drawn here rather than with segno's SVG writer so that every property a phone camera
needs is ours to state: a ``viewBox`` (without one, CSS that narrows the element crops the
drawing instead of scaling it, and a code missing a finder pattern does not scan), the
four-module quiet zone painted light (a transparent margin shows whatever is behind it),
and ``crispEdges`` so that modules are not blurred into grey at fractional scales.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    import segno

# ISO/IEC 18004 asks for a light margin four modules wide around the symbol.
QUIET_ZONE_MODULES = 4
# The natural size: whole pixels per module, so that an unscaled code is sharp.
PIXELS_PER_MODULE = 5
# Level M survives a smudged or glare-struck screen and keeps the symbol small.
ERROR_CORRECTION = "m"
DARK = "#000"
LIGHT = "#fff"


def qr_svg(text: str, *, title: str) -> Markup:
    """Return ``text`` as a QR code in an ``<svg>`` element named ``title`` for screen readers.

    The view box spans the symbol and its quiet zone, one unit a module, so the element
    scales as a whole; ``width`` and ``height`` give it a natural size CSS may shrink.
    ``text`` is encoded, never logged: it may carry a secret.
    """
    # Imported on first use: only enrolment pages draw codes (docs/performance.md).
    import segno

    # Always a full QR code: authenticator apps do not read Micro QR.
    code = segno.make_qr(text, error=ERROR_CORRECTION)
    modules = code.symbol_size(border=QUIET_ZONE_MODULES)[0]
    pixels = modules * PIXELS_PER_MODULE
    return Markup(  # noqa: S704 - our own markup; the only text in it is escaped
        '<svg xmlns="http://www.w3.org/2000/svg" role="img"'
        f' viewBox="0 0 {modules} {modules}" width="{pixels}" height="{pixels}"'
        ' shape-rendering="crispEdges">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{modules}" height="{modules}" fill="{LIGHT}"/>'
        f'<path fill="{DARK}" d="{_dark_modules_path(code)}"/>'
        "</svg>"
    )


def _dark_modules_path(code: segno.QRCode) -> str:
    """Return path data with one rectangle for each horizontal run of dark modules."""
    runs: list[str] = []
    for y, row in enumerate(code.matrix_iter(border=QUIET_ZONE_MODULES)):
        x = 0
        for dark, modules in groupby(row):
            width = len(list(modules))
            if dark:
                runs.append(f"M{x} {y}h{width}v1h-{width}z")
            x += width
    return "".join(runs)
