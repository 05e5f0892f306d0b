"""What the benches print beside a figure: min / median / max of its runs, and the load average."""

from __future__ import annotations

import os
import statistics


def spread(values: list[float], digits: int = 1) -> str:
    """min / median / max of 3 or more runs."""
    return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"
