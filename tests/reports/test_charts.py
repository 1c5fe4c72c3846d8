"""The Reports page's charts: the SVG holds the right points where they belong, the
labels escaped, and what a screen reader reads."""

import xml.etree.ElementTree as ET

from reports.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    TOP,
    Series,
    bar_chart,
    funnel_chart,
    line_chart,
    nice_ticks,
)

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own markup


def test_nice_ticks_reach_past_the_peak_in_round_steps():
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(100) == [0, 50, 100]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(0.4) == [0, 0.1, 0.2, 0.3, 0.4]


def test_a_line_chart_places_each_point_by_its_day_and_value():
    # given three days of messages in (2, 8, 4) and out (0, None, 6)
    svg = parse(
        line_chart(
            title="Messages per day",
            labels=["Nov 2", "Nov 3", "Nov 4"],
            series=[Series("In", [2, 8, 4]), Series("Out", [0, None, 6])],
            width=520,
        )
    )
    # then each point reads back its series, day and value
    points = [
        (c.get("data-series"), c.get("data-label"), float(c.get("data-value")))
        for c in svg.iterfind(".//svg:circle", NS)
    ]
    assert points == [
        ("In", "Nov 2", 2),
        ("In", "Nov 3", 8),
        ("In", "Nov 4", 4),
        ("Out", "Nov 2", 0),
        ("Out", "Nov 4", 6),
    ]
    # and sits where the axis says: y from 0 (bottom) to the top tick 8, x spread evenly
    plot_h = HEIGHT - TOP - BOTTOM
    circles = list(svg.iterfind(".//svg:circle", NS))
    assert float(circles[1].get("cy")) == round(TOP, 1)  # 8 of 8: the top
    assert float(circles[3].get("cy")) == round(TOP + plot_h, 1)  # 0: the bottom
    assert float(circles[0].get("cy")) == round(TOP + plot_h * 0.75, 1)  # 2 of 8
    assert float(circles[0].get("cx")) == LEFT
    assert float(circles[2].get("cx")) == 520 - 12  # the last day at the right edge
    # a missing value breaks the line: "Out" is two separate one-point runs
    out = svg.find(".//svg:g[@data-series='Out']", NS)
    assert len(out.findall("svg:polyline", NS)) == 2
    # ticks on the y axis, the title, and an accessible description
    assert [t.text for t in svg.iterfind(".//svg:g[@class='y-tick']/svg:text", NS)] == [
        "0",
        "2",
        "4",
        "6",
        "8",
    ]
    assert svg.find("svg:title", NS).text == "Messages per day"
    assert svg.find("svg:desc", NS).text == "In: total 14; Out: total 6"
    assert svg.get("role") == "img"


def test_labels_are_escaped():
    markup = str(
        bar_chart(title="<b>Refused</b>", labels=['"><script>x</script>'], values=[3], key="r")
    )
    assert "<script>" not in markup
    assert "<b>" not in markup
    bar = parse(markup).find(".//svg:rect[@class='bar']", NS)
    assert bar.get("data-label") == '"><script>x</script>'


def test_a_bar_chart_draws_the_cap_line_at_its_value():
    svg = parse(bar_chart(title="Invitations", labels=["a", "b"], values=[10, 25], limit=20))
    bars = [float(b.get("data-value")) for b in svg.iterfind(".//svg:rect[@class='bar']", NS)]
    assert bars == [10, 25]
    limit = svg.find(".//svg:g[@class='limit']", NS)
    assert float(limit.get("data-value")) == 20
    # ticks 0..30 by 10: the cap at two thirds of the height
    y = float(limit.find("svg:line", NS).get("y1"))
    assert y == round(TOP + (HEIGHT - TOP - BOTTOM) / 3, 1)


def test_a_funnel_shows_each_stage_and_its_share_of_the_first():
    svg = parse(
        funnel_chart(title="Spring", stages=[("Enrolled", 40), ("Sent", 30), ("Replied", 6)])
    )
    stages = [
        (g.get("data-label"), float(g.get("data-value"))) for g in svg.iterfind(".//svg:g", NS)
    ]
    assert stages == [("Enrolled", 40), ("Sent", 30), ("Replied", 6)]
    texts = [t.text for t in svg.iterfind(".//svg:g/svg:text", NS)]
    assert "6 · 15%" in texts
    assert "30 · 75%" in texts
    widths = [float(r.get("width")) for r in svg.iterfind(".//svg:g/svg:rect", NS)]
    assert widths[1] / widths[0] == 0.75
