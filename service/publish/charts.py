"""Bar charts drawn on the server as SVG (templates/_chart.html draws what this computes).

A chart is bars of stacked series over labelled columns (weeks, digests), with its numbers kept
for the text equivalent: a sentence and a table that screen readers get instead of the picture.
Colours come from the stylesheet (classes s0, s1, ...), so pages need no inline style."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.model.weeks import week_bounds, week_of

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 24, 20, 30  # room for the y labels and the x labels
MAX_X_LABELS = 7
MAX_BAR_WIDTH = 48  # a chart of one or two columns keeps bars, not slabs


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # index of the series: its colour class
    key: str  # the series' name as a CSS class ("k-sent"), for colours that mean something
    label: str  # "2026-W05, sent: 12", shown as the bar's tooltip


@dataclass
class BarChart:
    id: str  # unique on the page, for aria-labelledby
    title: str
    columns: list[str]  # one label per column, left to right
    series: list[tuple[str, list[int]]]  # (name, one value per column); stacked in this order
    unit: str = "papers"
    column_name: str = "week"  # what a column is, for the table's header

    # The plot's edges, for the template's grid lines and labels.
    left, right, label_y = LEFT, WIDTH - RIGHT, HEIGHT - 8

    @property
    def totals(self) -> list[int]:
        return [sum(values[i] for _, values in self.series) for i in range(len(self.columns))]

    @property
    def top(self) -> int:
        """The y axis' top: a round number at least the tallest column (at least 1)."""
        return nice_ceiling(max(self.totals, default=0))

    @property
    def ticks(self) -> list[tuple[float, int]]:
        """(y, value) of the horizontal grid lines: 0, half and the top."""
        values = [0, self.top // 2, self.top] if self.top % 2 == 0 else [0, self.top]
        return [(self._y(value), value) for value in values]

    def bars(self) -> list[Bar]:
        """Every non-empty segment, column by column, series stacked bottom up."""
        step = (WIDTH - LEFT - RIGHT) / max(len(self.columns), 1)
        width = min(step * 0.72, MAX_BAR_WIDTH)
        found = []
        for i, column in enumerate(self.columns):
            base = 0
            for index, (name, values) in enumerate(self.series):
                if values[i] <= 0:
                    continue
                y_top, y_bottom = self._y(base + values[i]), self._y(base)
                found.append(
                    Bar(
                        round(LEFT + i * step + (step - width) / 2, 2),
                        round(y_top, 2),
                        round(width, 2),
                        round(y_bottom - y_top, 2),
                        index,
                        series_key(name),
                        f"{column}, {name}: {values[i]}",
                    )
                )
                base += values[i]
        return found

    def legend(self) -> list[tuple[int, str, str]]:
        """(index, CSS key, name) of each series."""
        return [(index, series_key(name), name) for index, (name, _) in enumerate(self.series)]

    def x_labels(self) -> list[tuple[float, str]]:
        """(x, label) of at most MAX_X_LABELS columns, evenly spaced, the last always shown."""
        if not self.columns:
            return []
        step = (WIDTH - LEFT - RIGHT) / len(self.columns)
        every = max(1, -(-len(self.columns) // MAX_X_LABELS))
        last = len(self.columns) - 1
        shown = [i for i in range(len(self.columns)) if (last - i) % every == 0]
        # A week's label is its number ("W05"): the year is in the table and the tooltips.
        return [(round(LEFT + i * step + step / 2, 2), self.columns[i].rsplit("-", 1)[-1]) for i in shown]

    def summary(self) -> str:
        """One sentence with the gist, for the figure's caption and the SVG's desc."""
        totals = self.totals
        if not any(totals):
            return f"No {self.unit} in these {len(self.columns)} columns."
        parts = [
            f"{sum(totals)} {self.unit} in {self.columns[0]}"
            if len(self.columns) == 1
            else f"{sum(totals)} {self.unit} in total from {self.columns[0]} to {self.columns[-1]}"
        ]
        if len(self.series) > 1:
            parts[0] += " (" + ", ".join(f"{name} {sum(values)}" for name, values in self.series) + ")"
        if len(self.columns) > 1:
            peak = max(range(len(totals)), key=lambda i: (totals[i], i))
            parts += [f"most in {self.columns[peak]} ({totals[peak]})", f"{totals[-1]} in {self.columns[-1]}"]
        return "; ".join(parts) + "."

    def _y(self, value: int) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / self.top)


def series_key(name: str) -> str:
    """A series' name as a CSS class: "k-" and its letters, digits and dashes."""
    return "k-" + re.sub(r"[^a-z0-9-]", "", name.lower())


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 4, 5, 10, 20, 40, 50, 100, ... that is at least `value`."""
    power = 1
    while True:
        for mantissa in (1, 2, 4, 5):
            if mantissa * power >= value:
                return mantissa * power
        power *= 10


TOPIC_WEEKS = 26


def papers_per_week_chart(week_counts: list[tuple[str, int]], now: datetime) -> BarChart:
    """A topic's papers per week (by first match) over the TOPIC_WEEKS weeks up to `now`'s."""
    weeks = last_weeks(now, TOPIC_WEEKS)
    counts = dict(week_counts)
    return BarChart(
        id="papers-per-week",
        title=f"Papers per week, last {TOPIC_WEEKS} weeks",
        columns=weeks,
        series=[("papers", [counts.get(week, 0) for week in weeks])],
    )


def last_weeks(now: datetime, count: int) -> list[str]:
    """The `count` ISO weeks up to and including `now`'s, oldest first."""
    monday, _ = week_bounds(week_of(now))
    return [week_of(monday - timedelta(weeks=back)) for back in range(count - 1, -1, -1)]


def per_week(
    weeks: list[str], moments: Iterable[tuple[datetime, str]], names: list[str]
) -> list[tuple[str, list[int]]]:
    """(name, count per week) for each name, from (moment, name) pairs; others are left out."""
    counts = Counter((week_of(moment), name) for moment, name in moments)
    return [(name, [counts[(week, name)] for week in weeks]) for name in names]


def ordered_names(found: Iterable[str], order: Iterable[str]) -> list[str]:
    """The names in `found`, those listed in `order` first and in that order, then the rest."""
    present = set(found)
    known = [name for name in order if name in present]
    return known + sorted(present - set(known))
