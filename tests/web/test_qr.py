"""The enrolment QR code as SVG: a view box that scales it whole, a quiet zone, crisp modules."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET

import pytest
import segno

from dissent.web.qr import PIXELS_PER_MODULE, QUIET_ZONE_MODULES, qr_svg

SVG = "{http://www.w3.org/2000/svg}"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SHORT_URI = f"otpauth://totp/dissent:ann?secret={SECRET}&issuer=dissent"
# A long account name makes a bigger symbol (a higher QR version).
LONG_URI = f"otpauth://totp/dissent:{'a' * 120}?secret={SECRET}&issuer=dissent"
TITLE = "Scan with your authenticator app"
RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")
FINDER_SIZE = 7  # modules: the three corner squares a scanner locates the code by


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def symbol_modules(text: str) -> int:
    """The width of the QR symbol for ``text``, without any margin, as segno makes it."""
    return segno.make_qr(text, error="m").symbol_size(border=0)[0]


def drawn_grid(svg: ET.Element) -> set[tuple[int, int]]:
    """Return the (x, y) of every dark module the path draws."""
    path = svg.find(f"{SVG}path")
    assert path is not None
    d = path.get("d", "")
    runs = RUN.findall(d)
    assert "".join(f"M{x} {y}h{w}v1h-{w}z" for x, y, w in runs) == d, "unexpected path data"
    return {(int(x) + i, int(y)) for x, y, w in runs for i in range(int(w))}


def has_finder_at(grid: set[tuple[int, int]], left: int, top: int) -> bool:
    """Whether a finder pattern (dark ring, light ring, dark 3x3 core) starts at left, top."""
    for dy in range(FINDER_SIZE):
        for dx in range(FINDER_SIZE):
            ring = min(dx, dy, FINDER_SIZE - 1 - dx, FINDER_SIZE - 1 - dy)
            if ((left + dx, top + dy) in grid) != (ring != 1):
                return False
    return True


@pytest.mark.parametrize("uri", [SHORT_URI, LONG_URI], ids=["short", "long"])
def test_the_view_box_is_the_symbol_and_a_four_module_quiet_zone(uri):
    svg = parse(qr_svg(uri, title=TITLE))

    size = symbol_modules(uri) + 2 * QUIET_ZONE_MODULES
    assert QUIET_ZONE_MODULES == 4
    assert svg.get("viewBox") == f"0 0 {size} {size}"
    # The natural size is square, whole pixels per module; CSS may only shrink it.
    assert svg.get("width") == svg.get("height") == str(size * PIXELS_PER_MODULE)


@pytest.mark.parametrize("uri", [SHORT_URI, LONG_URI], ids=["short", "long"])
def test_the_drawing_is_the_whole_symbol_inside_an_empty_quiet_zone(uri):
    svg = parse(qr_svg(uri, title=TITLE))
    size = int(svg.get("viewBox", "").split()[2])
    grid = drawn_grid(svg)

    edge = QUIET_ZONE_MODULES
    far = size - QUIET_ZONE_MODULES - FINDER_SIZE
    assert all(edge <= x < size - edge and edge <= y < size - edge for x, y in grid)
    assert has_finder_at(grid, edge, edge), "top-left finder pattern missing"
    assert has_finder_at(grid, far, edge), "top-right finder pattern missing"
    assert has_finder_at(grid, edge, far), "bottom-left finder pattern missing"
    expected = segno.make_qr(uri, error="m").matrix
    assert grid == {
        (x + edge, y + edge) for y, row in enumerate(expected) for x, dark in enumerate(row) if dark
    }


def test_modules_are_crisp_dark_on_a_painted_light_background():
    svg = parse(qr_svg(SHORT_URI, title=TITLE))
    size = svg.get("viewBox", "").split()[2]

    assert svg.get("shape-rendering") == "crispEdges"
    background = svg.find(f"{SVG}rect")
    assert background is not None
    assert (background.get("width"), background.get("height")) == (size, size)
    assert background.get("fill") == "#fff"
    assert svg.find(f"{SVG}path").get("fill") == "#000"  # type: ignore[union-attr]


def test_the_code_is_an_image_named_by_its_escaped_title():
    svg = parse(qr_svg(SHORT_URI, title='Scan <b>"this"</b> & go'))

    assert svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title") == 'Scan <b>"this"</b> & go'
    assert svg.find(f"{SVG}title/{SVG}b") is None


def test_drawing_the_code_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG)

    qr_svg(SHORT_URI, title=TITLE)

    assert SECRET not in caplog.text
    assert caplog.records == []
