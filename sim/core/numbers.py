"""Numbers made safe for JSON and tables: NaN and infinities (an undefined interval or ratio) become None."""

from __future__ import annotations

import math

import numpy as np


def finite_or_none(x) -> float | None:
    """``x`` as a float, or None where it is NaN or infinite: standard JSON has neither."""
    x = float(x)
    return x if math.isfinite(x) else None


def json_ready(obj):
    """``obj`` with every float that is not finite replaced by None and NumPy scalars made Python's,
    through dicts, lists and tuples (tuples become lists, as JSON writes them)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return finite_or_none(obj)
    return obj
