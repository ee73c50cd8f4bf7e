"""JSON-ready numbers: whatever is not a finite float becomes None, through any nesting, and nothing else changes."""

import json
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.core.numbers import finite_or_none, json_ready

leaves = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=3), st.none(),
                   st.booleans(), st.floats(allow_nan=True).map(np.float64))
trees = st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                    st.dictionaries(st.text(max_size=3), kids, max_size=3)),
                     max_leaves=12)


@given(trees)
def test_json_ready_writes_standard_json_and_keeps_every_finite_value(tree):
    ready = json_ready(tree)
    text = json.dumps(ready, allow_nan=False)  # raises on NaN or infinity

    def same(a, b):
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, (float, np.floating)) and not isinstance(a, bool):
            return b == (float(a) if math.isfinite(a) else None)
        return a == b

    assert same(tree, ready) and json.loads(text) == ready


def test_finite_or_none():
    assert finite_or_none(np.float32(0.5)) == 0.5 and finite_or_none("2") == 2.0
    assert finite_or_none(float("nan")) is None and finite_or_none(-np.inf) is None
