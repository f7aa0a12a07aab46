"""tools/timing.py, the one timing helper every benchmark uses."""

from __future__ import annotations

import pytest

from tools import timing


def test_time_calls_warms_up_untimed_then_times_each_call(monkeypatch):
    clock = iter([0.0, 0.5, 1.0, 3.0, 10.0, 10.25])  # three timed calls: 0.5 s, 2.0 s, 0.25 s
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    calls = []
    result = timing.time_calls(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5
    assert result.times == (0.5, 2.0, 0.25)
    assert result.median == 0.5 and result.slowest == 2.0


def test_time_calls_needs_a_repeat():
    with pytest.raises(ValueError, match="at least 1"):
        timing.time_calls(lambda: None, repeats=0)
