"""Charts drawn by the server as SVG strings, for the console's trust dashboard.

Drawn here rather than by a script in the browser, so the console needs no
JavaScript and no outside resource, and what a chart shows can be tested as text.
Every chart:
- is one `<svg role="img">` with an `aria-label` and a `<title>` naming it and summing
  up its data, and a `<desc>` (via `aria-describedby`) listing the data itself, so a
  screen reader says what a sighted reader sees;
- escapes every text it is given (labels come from the policy and the store, and a
  destination or purpose name is no place for markup); characters XML cannot carry
  are dropped;
- draws in colours of at least 4.5:1 contrast against white (WCAG AA for text, above
  the 3:1 asked of graphics), lines also told apart by their dash pattern;
- holds no script, no event attribute, no link and no external font or image;
- says "no data yet" when there is nothing to draw.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

# Contrast against white, worked out in tests/dashboard/test_charts.py: all >= 4.5.
BLUE, ORANGE, GREEN, RED = "#1f4e79", "#a15c00", "#1b5e20", "#b3261e"
PURPLE, PINK, TEAL, SLATE = "#6a1b9a", "#ad1457", "#00695c", "#37474f"
PALETTE = (BLUE, ORANGE, GREEN, RED, PURPLE, PINK, TEAL, SLATE)
TEXT, MUTED, GRID = "#1a1a1a", "#595959", "#d9d9d9"  # GRID only for decorative lines
DASHES = ("", "6 3", "2 3", "8 3 2 3")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
NO_DATA = "no data yet"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LISTED = 31  # points a description lists one by one; longer series are summed up
# Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Series:
    """A named row of values (aligned with the chart's days or labels)."""

    name: str
    values: Sequence[float]
    color: str | None = None  # one of PALETTE; by default the next one

    def __post_init__(self) -> None:
        if self.color is not None and self.color not in PALETTE:
            raise ValueError("a series colour is one of PALETTE (they keep AA contrast)")
        if any(not v >= 0 for v in self.values):  # also refuses NaN
            raise ValueError(f"series {self.name!r}: these charts draw counts and rates, >= 0")


def esc(text: object) -> str:
    """Text made safe for SVG content and attributes."""
    cleaned = _NOT_XML.sub("", str(text))
    return (
        cleaned.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def fmt(value: float, unit: str = "") -> str:
    """1234 -> `1,234`; 0.25 -> `0.25`; with its unit (`%` sticks to the number)."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def day_label(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ticks(top: float, *, whole: bool, count: int = 4) -> list[float]:
    """Round steps from 0 to at least `top` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for factor in (1, 2, 2.5, 5, 10) if not whole else (1, 2, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    if whole:
        step = max(1.0, round(step))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _id(chart_id: str | None, *parts: str) -> str:
    if chart_id:
        return "chart-" + re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)[:40]
    return "chart-" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:10]


def _svg(
    width: int, height: int, chart_id: str | None, label: str, description: str, body: str
) -> str:
    ident = _id(chart_id, label, description)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}" '
        f'aria-describedby="{ident}-desc" font-family="{esc(FONT)}" font-size="12" '
        f'fill="{TEXT}"><title>{esc(label)}</title>'
        f'<desc id="{ident}-desc">{esc(description)}</desc>{body}</svg>'
    )


def empty_chart(title: str, *, width: int = 640, height: int = 120, chart_id: str = "") -> str:
    """The chart of nothing: its title and "no data yet", said and shown."""
    body = (
        f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
        f'fill="{MUTED}" font-size="14">{NO_DATA}</text>'
    )
    return _svg(width, height, chart_id or None, f"{title}: {NO_DATA}", NO_DATA, body)


def _colors(series: Sequence[Series]) -> list[str]:
    return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]


def _legend(
    series: Sequence[Series],
    colors: list[str],
    x: float,
    y: float,
    width: float,
    *,
    lines: bool = False,
) -> str:
    """Swatches (or line samples, dashed as drawn) and names in rows, left to right."""
    out, cx, cy = [], x, y
    for n, (s, color) in enumerate(zip(series, colors, strict=True)):
        name = short(s.name, 40)
        span = 22 + 7 * len(name)
        if cx > x and cx + span > x + width:
            cx, cy = x, cy + 18
        if lines:
            dash = DASHES[n % len(DASHES)]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{cx:.1f}" x2="{cx + 14:.1f}" y1="{cy - 3:.1f}" y2="{cy - 3:.1f}" '
                f'stroke="{color}" stroke-width="2"{dashed}/>'
            )
        else:
            out.append(
                f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="12" height="12" fill="{color}"/>'
            )
        out.append(f'<text x="{cx + 18:.1f}" y="{cy + 1:.1f}">{esc(name)}</text>')
        cx += span + 12
    return "".join(out)


def _legend_rows(series: Sequence[Series], width: float) -> int:
    rows, used = 1, 0.0
    for s in series:
        span = 22 + 7 * len(short(s.name, 40)) + 12
        if used and used + span > width:
            rows, used = rows + 1, 0.0
        used += span
    return rows


def _y_axis(
    marks: list[float], left: float, right: float, y_of: Callable[[float], float], unit: str
) -> str:
    out = []
    for mark in marks:
        y = y_of(mark)
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{esc(fmt(mark, unit))}</text>"
        )
    return "".join(out)


def _describe(name: str, values: Sequence[float], labels: Sequence[str], unit: str) -> str:
    total = sum(values)
    if not values:
        return f"{name}: none."
    peak = max(range(len(values)), key=lambda i: values[i])
    text = f"{name}: {fmt(total, unit)} in all, most {fmt(values[peak], unit)} on {labels[peak]}"
    if len(values) <= LISTED:
        text += (
            " ("
            + ", ".join(f"{k} {fmt(v, unit)}" for k, v in zip(labels, values, strict=True))
            + ")"
        )
    return text + "."


def line_chart(
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    *,
    unit: str = "",
    width: int = 640,
    height: int = 260,
    chart_id: str | None = None,
) -> str:
    """One line per series over consecutive days (consent decisions per day)."""
    if not days or not series:
        return empty_chart(title, width=width, chart_id=chart_id or "")
    for s in series:
        if len(s.values) != len(days):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(days)} days")
    colors = _colors(series)
    left, right, top = 48, width - 16, 12
    bottom = height - 28 - 18 * _legend_rows(series, right - left)
    marks = ticks(
        max(max(s.values, default=0) for s in series),
        whole=all(float(v).is_integer() for s in series for v in s.values),
    )

    def x_of(i: int) -> float:
        return (left + right) / 2 if len(days) == 1 else left + i * (right - left) / (len(days) - 1)

    def y_of(v: float) -> float:
        return bottom - (v / marks[-1]) * (bottom - top)

    parts = [_y_axis(marks, left, right, y_of, unit)]
    step = max(1, math.ceil(len(days) / 6))
    shown = list(range(0, len(days), step))
    if shown[-1] != len(days) - 1:  # the last day is always named; a crowded one gives way
        shown = (
            [*shown[:-1], len(days) - 1]
            if len(days) - 1 - shown[-1] < step / 2
            else [
                *shown,
                len(days) - 1,
            ]
        )
    for i in shown:
        anchor = "middle" if len(days) == 1 else {0: "start", len(days) - 1: "end"}.get(i, "middle")
        parts.append(
            f'<text x="{x_of(i):.1f}" y="{bottom + 16}" text-anchor="{anchor}" fill="{MUTED}">'
            f"{esc(day_label(days[i]))}</text>"
        )
    for n, (s, color) in enumerate(zip(series, colors, strict=True)):
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(s.values))
        dash = DASHES[n % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dashed}/>'
        )
        if len(days) <= LISTED:
            parts.extend(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{color}"/>'
                for i, v in enumerate(s.values)
            )
    parts.append(_legend(series, colors, left, bottom + 38, right - left, lines=True))
    labels = [d.isoformat() for d in days]
    summary = f"{title}, daily from {labels[0]} to {labels[-1]}"
    description = " ".join(_describe(s.name, s.values, labels, unit) for s in series)
    return _svg(width, height, chart_id, summary, description, "".join(parts))


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 480,
    color: str = BLUE,
    chart_id: str | None = None,
) -> str:
    """A horizontal bar per label, the label whole on the line above its bar (a
    purpose's name is a sentence; clipping it would leave a key-like stub)."""
    if not bars:
        return empty_chart(title, width=width, chart_id=chart_id or "")
    if any(not v >= 0 for _, v in bars):
        raise ValueError("these charts draw counts and rates, >= 0")
    if color not in PALETTE:
        raise ValueError("a bar colour is one of PALETTE (they keep AA contrast)")
    row, top, left = 42, 8, 4
    height = top + row * len(bars) + 8
    highest = max(v for _, v in bars) or 1
    room = width - left - 70
    parts = []
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        length = max(0.0, value / highest * room)
        parts.append(
            f'<text x="{left}" y="{y + 13}">{esc(label)}</text>'
            f'<rect x="{left}" y="{y + 19}" width="{length:.1f}" height="16" fill="{color}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 31}">{esc(fmt(value, unit))}</text>'
        )
    description = "; ".join(f"{label}: {fmt(value, unit)}" for label, value in bars) + "."
    return _svg(width, height, chart_id, title, description, "".join(parts))


def stacked_bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    grouped: bool = False,
    unit: str = "",
    width: int = 640,
    height: int = 260,
    chart_id: str | None = None,
) -> str:
    """A column per label, its series stacked (or side by side when `grouped`):
    deliveries per destination by state, requests per kind."""
    if not labels or not series:
        return empty_chart(title, width=width, chart_id=chart_id or "")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)}")
    colors = _colors(series)
    left, right, top = 48, width - 16, 12
    bottom = height - 28 - 18 * _legend_rows(series, right - left)
    columns = [[s.values[i] for s in series] for i in range(len(labels))]
    highest = max((max(c) if grouped else sum(c)) for c in columns)
    marks = ticks(highest, whole=all(float(v).is_integer() for c in columns for v in c))

    def y_of(v: float) -> float:
        return bottom - (v / marks[-1]) * (bottom - top)

    slot = (right - left) / len(labels)
    bar = slot * 0.7 / (len(series) if grouped else 1)
    parts = [_y_axis(marks, left, right, y_of, unit)]
    for i, (label, column) in enumerate(zip(labels, columns, strict=True)):
        x0 = left + i * slot + slot * 0.15
        base = 0.0
        for n, (value, color) in enumerate(zip(column, colors, strict=True)):
            low, high = (0.0, value) if grouped else (base, base + value)
            x = x0 + (n * bar if grouped else 0)
            if value > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y_of(high):.1f}" width="{bar:.1f}" '
                    f'height="{y_of(low) - y_of(high):.1f}" fill="{color}"/>'
                )
            base += value
        parts.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'fill="{MUTED}">{esc(short(label, max(4, int(slot / 7))))}</text>'
        )
    parts.append(_legend(series, colors, left, bottom + 38, right - left))
    description = " ".join(
        f"{label}: "
        + ", ".join(f"{s.name} {fmt(v, unit)}" for s, v in zip(series, column, strict=True))
        + "."
        for label, column in zip(labels, columns, strict=True)
    )
    return _svg(width, height, chart_id, title, description, "".join(parts))
