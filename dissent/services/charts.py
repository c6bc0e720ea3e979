"""Bar charts for the periodic report, drawn on the server as inline SVG.

No JavaScript and nothing the Content-Security-Policy forbids: no ``style`` attributes
and no ``<style>`` element, only SVG presentation attributes. A bar is drawn to the count
the report publishes (for "at least 12", to 12): never to a count it suppresses, since a
bar's length would give back the number the label hides. A figure that publishes nothing
("< 5", "withheld"), or a count below the threshold that is not shown as itself, gets a
fixed stub whatever it hides.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from .report import SUPPRESS_BELOW

WIDTH = 480
ROW_HEIGHT = 40
LABEL_BASELINE = 15  # within a row: the label on top, the bar under it
BAR_TOP = 20
BAR_HEIGHT = 14
BAR_MAX = 400  # the longest bar; what remains of the width holds its value
STUB_WIDTH = 16  # every suppressed count, whatever it is
VALUE_GAP = 6
LABEL_MAX = 56  # characters; a longer label is cut (the full one is in its tooltip)
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
FONT_SIZE = 15
INK = "#1b1f23"
BAR_FILL = "#1f4e79"
STUB_FILL = "#d5d9de"
STUB_STROKE = "#5a6169"


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1].rstrip() + "…"


def _stub(count: int, shown: str) -> bool:
    """Return whether a figure is drawn as the fixed stub rather than to scale."""
    return shown != str(count) and count < SUPPRESS_BELOW


def _bar(count: int, shown: str, scale: int, y: int) -> tuple[str, int]:
    """Return the bar's SVG and its drawn width."""
    if _stub(count, shown):
        return (
            f'<rect x="0" y="{y}" width="{STUB_WIDTH}" height="{BAR_HEIGHT}" fill="{STUB_FILL}"'
            f' stroke="{STUB_STROKE}" stroke-width="1" stroke-dasharray="2 2"/>',
            STUB_WIDTH,
        )
    if count <= 0 or scale <= 0:
        return "", 0
    width = max(1, round(count / scale * BAR_MAX))
    return (
        f'<rect x="0" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="{BAR_FILL}"/>',
        width,
    )


def bar_chart(items: list[tuple[str, int, str]], *, title: str) -> Markup:
    """Return a horizontal bar chart as an accessible inline SVG.

    Each item is (label, count, shown): ``count`` is what the report publishes of the
    figure (:class:`dissent.services.report.Figure`: suppressed cells add nothing to it)
    and ``shown`` how it is displayed. A figure that publishes nothing is a fixed stub.
    """
    # The scale comes from the counts that are drawn; a stub never sets it.
    scale = max((count for _, count, shown in items if not _stub(count, shown)), default=0)
    height = max(1, len(items)) * ROW_HEIGHT
    summary = "; ".join(f"{label}: {shown}" for label, _, shown in items)
    described = f"{title}. {summary}" if items else title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' font-family="{FONT}" font-size="{FONT_SIZE}" fill="{INK}"'
        f' aria-label="{escape(described)}">',
        f"<title>{escape(title)}</title>",
    ]
    for row, (label, count, shown) in enumerate(items):
        top = row * ROW_HEIGHT
        bar, width = _bar(count, shown, scale, top + BAR_TOP)
        parts += [
            "<g>",
            f"<title>{escape(label)}: {escape(shown)}</title>",
            f'<text x="0" y="{top + LABEL_BASELINE}">{escape(_cut(label))}</text>',
            bar,
            f'<text x="{width + VALUE_GAP}" y="{top + BAR_TOP + BAR_HEIGHT - 2}"'
            f' font-weight="600">{escape(shown)}</text>',
            "</g>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
