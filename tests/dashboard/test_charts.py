"""Charts are SVG text a browser and a screen reader can both use: well-formed,
escaped, described, legible, self-contained, and honest when there is nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from trustable.dashboard.charts import (
    GRID,
    MUTED,
    NO_DATA,
    PALETTE,
    TEXT,
    Series,
    bar_chart,
    esc,
    line_chart,
    stacked_bar_chart,
    ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(\"x\")</script> & 'quotes'"
DAYS = [date(2026, 11, 20) + timedelta(days=n) for n in range(3)]


def charts_of(label: str) -> list[str]:
    return [
        line_chart(label, DAYS, [Series(label, [1, 0, 3]), Series("withdrawn", [0, 2, 0])]),
        bar_chart(label, [(label, 5), ("not_permitted", 56)]),
        stacked_bar_chart(label, [label, "crm"], [Series(label, [1, 2]), Series("dead", [0, 1])]),
        stacked_bar_chart(label, ["a", "b"], [Series(label, [1, 2])], grouped=True),
        line_chart(label, [], []),
    ]


def contrast(color: str) -> float:
    """WCAG 2 contrast ratio of a #rrggbb colour against white."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


@pytest.mark.parametrize("index", range(5))
def test_a_label_with_markup_is_escaped_and_the_chart_parses_as_xml(index: int) -> None:
    svg = charts_of(EVIL)[index]
    assert "<script" not in svg and 'alert("x")' not in svg
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    assert list(root.iter(f"{SVG}script")) == []
    said = root.attrib["aria-label"] + "".join(root.itertext())
    assert EVIL in said  # the text survives, as text


@pytest.mark.parametrize("index", range(5))
def test_every_chart_is_an_image_with_a_name_and_a_description(index: int) -> None:
    root = ET.fromstring(charts_of("Consent decisions per day")[index])
    assert root.attrib["role"] == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == root.attrib["aria-label"]
    assert title.text.startswith("Consent decisions per day")
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.attrib["id"] == root.attrib["aria-describedby"]
    assert desc.text


def test_the_description_says_the_data() -> None:
    root = ET.fromstring(
        line_chart("Grants", DAYS, [Series("granted", [1, 0, 3]), Series("withdrawn", [0, 2, 0])])
    )
    desc = root.findtext(f"{SVG}desc") or ""
    assert "granted: 4 in all, most 3 on 2026-11-22" in desc
    assert "2026-11-21 2" in desc
    assert "daily from 2026-11-20 to 2026-11-22" in root.attrib["aria-label"]
    bars = ET.fromstring(bar_chart("Drops", [("not_in_tracking_plan", 1234), ("x", 0.5)], unit="%"))
    assert bars.findtext(f"{SVG}desc") == "not_in_tracking_plan: 1,234%; x: 0.5%."


def test_nothing_to_draw_says_no_data_yet() -> None:
    for svg in (
        line_chart("Consent", [], []),
        line_chart("Consent", DAYS, []),
        bar_chart("Drops", []),
        stacked_bar_chart("Deliveries", [], []),
    ):
        root = ET.fromstring(svg)
        assert root.attrib["aria-label"].endswith(f": {NO_DATA}")
        assert NO_DATA in "".join(root.itertext())


def test_colours_keep_aa_contrast_against_white() -> None:
    for color in (*PALETTE, TEXT, MUTED):
        assert contrast(color) >= 4.5, color
    drawn = "".join(charts_of("x"))
    used = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', drawn))
    assert used - {GRID} <= {*PALETTE, TEXT, MUTED}  # grid lines are decoration only
    with pytest.raises(ValueError, match="PALETTE"):
        Series("light", [1], color="#ffff00")


def test_a_chart_holds_no_script_no_handler_and_nothing_from_outside() -> None:
    for svg in charts_of(EVIL):
        root = ET.fromstring(svg)
        for element in root.iter():
            assert element.tag.removeprefix(SVG) not in {"script", "image", "use", "a", "style"}
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), name
                assert "href" not in name and "url(" not in value and "http" not in value


def test_characters_xml_cannot_hold_are_dropped() -> None:
    svg = bar_chart("Drops \x00\x1b", [("a\x07b", 1)])
    root = ET.fromstring(svg)
    assert "ab" in "".join(root.itertext())
    assert esc("a\ud800b") == "ab"


def test_series_must_match_their_days_and_be_counts() -> None:
    with pytest.raises(ValueError, match="2 values for 3 days"):
        line_chart("x", DAYS, [Series("granted", [1, 2])])
    with pytest.raises(ValueError, match=">= 0"):
        Series("broken", [float("nan")])


def test_axes_step_by_round_numbers() -> None:
    assert ticks(9, whole=True) == [0, 5, 10]
    assert ticks(3, whole=True) == [0, 1, 2, 3]
    assert ticks(0, whole=True) == [0, 1]
    assert ticks(0.9, whole=False) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
