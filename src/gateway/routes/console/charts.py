"""Charts drawn on the server as SVG: no chart library, no script, readable without either.

A chart is a stacked bar per day (one colour per model); every bar segment carries a
`<title>` (hover and screen readers), and the page shows the same figures as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from gateway.services.billing.money import to_credits
from gateway.services.reports.spend import DailySpend

# The same colours as the legend's `.swatch-N` classes in console.css; the last is "other".
PALETTE = ("#2358c9", "#e07b00", "#1a8f5a", "#a23bb8", "#c2334d", "#2b9bb5", "#7a828d")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 28


@dataclass(frozen=True, slots=True)
class LegendEntry:
    name: str
    swatch: int
    total: int


def _nice_ceiling(value: Decimal) -> Decimal:
    """The axis top: 1, 2 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (value.adjusted())
    for step in (1, 2, 5, 10):
        if value <= power * step:
            return power * step
    return power * 10


def _label(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if len(text) <= 9 else f"{float(value):.3g}"


def legend(spend: DailySpend) -> list[LegendEntry]:
    return [
        LegendEntry(s.model or "other models", min(i, len(PALETTE) - 1) if s.model else len(PALETTE) - 1, s.total)
        for i, s in enumerate(spend.series)
    ]


def daily_spend_svg(spend: DailySpend) -> Markup:
    """Stacked bars of cost per model per day, with a labelled credits axis."""
    days = len(spend.days)
    totals = [sum(s.costs[i] for s in spend.series) for i in range(days)]
    top = _nice_ceiling(to_credits(max(totals, default=0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(days, 1)
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">',
        '<title id="chart-title">Daily spend by model, last 30 days (credits)</title>',
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dde3"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6472">{_label(value)}</text>')
    swatches = legend(spend)
    for index, day in enumerate(spend.days):
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_h
        for series, entry in zip(spend.series, swatches, strict=True):
            cost = series.costs[index]
            if cost <= 0:
                continue
            h = float(to_credits(cost) / top) * plot_h
            y -= h
            tip = escape(f"{day.isoformat()} · {entry.name}: {format(to_credits(cost), 'f')} credits")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{PALETTE[entry.swatch]}"><title>{tip}</title></rect>'
            )
        if index % 7 == (days - 1) % 7:  # a date under every seventh bar, ending today
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#5b6472">{day:%b %d}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers, dates and escaped model names only
