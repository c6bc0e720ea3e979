"""The report's bar charts: suppressed counts are never drawn to scale, and no style is needed."""

from __future__ import annotations

from dissent.services.charts import STUB_WIDTH, bar_chart
from dissent.services.report import shown
from tests.helpers.pages import bar_width


def test_the_chart_never_draws_a_suppressed_count_to_scale():
    drawn = {
        bar_chart([("hidden", n, shown(n)), ("shown", 12, "12")], title="By category")
        for n in (1, 2, 3, 4)
    }

    assert len(drawn) == 1  # one picture, whatever the hidden count is
    svg = drawn.pop()
    assert bar_width(svg, "hidden") == STUB_WIDTH
    assert bar_width(svg, "shown") == 400
    assert "hidden: &lt; 5" in svg


def test_the_scale_comes_from_the_shown_counts_only():
    svg = bar_chart([("a", 5, "5"), ("b", 10, "10"), ("c", 0, "0"), ("d", 4, "< 5")], title="t")

    assert [bar_width(svg, name) for name in "abcd"] == [200, 400, 0, STUB_WIDTH]


def test_the_chart_is_accessible_and_needs_no_style():
    svg = str(
        bar_chart([("<b>tricky & label</b>", 7, "7"), ("x", 3, "< 5")], title="Observations & more")
    )

    assert svg.startswith("<svg ")
    assert 'role="img"' in svg
    assert (
        'aria-label="Observations &amp; more. &lt;b&gt;tricky &amp; label&lt;/b&gt;: 7; x: &lt; 5"'
        in svg
    )
    assert "<title>Observations &amp; more</title>" in svg
    assert "<b>" not in svg
    assert "style" not in svg
    assert "<script" not in svg


def test_a_lower_bound_is_drawn_to_what_it_publishes_and_nothing_published_is_a_stub():
    svg = bar_chart(
        [("partly", 12, "at least 12"), ("whole", 6, "6"), ("none", 0, "withheld")], title="t"
    )

    assert [bar_width(svg, name) for name in ("partly", "whole", "none")] == [400, 200, STUB_WIDTH]
    assert "partly: at least 12" in svg
