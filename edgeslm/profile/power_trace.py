"""A power trace (time s, watts) and the energy it holds inside the timed runs, less the idle draw.

Shared by every measured source that is a time series (Android battery gauge, Monsoon-style CSV, Perfetto power
rails): each is turned into a PowerTrace on the device's clock, then integrated over the runs' prefill and decode
windows with the trapezoid rule (values at a window's edges linearly interpolated, so a window between two
samples still gets its share).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from edgeslm.errors import UserError


def _interp(times: tuple[float, ...], values: tuple[float, ...], t: float) -> float:
    i = bisect_left(times, t)
    if i == 0:
        return values[0]
    if i == len(times):
        return values[-1]
    t0, t1 = times[i - 1], times[i]
    return values[i - 1] + (values[i] - values[i - 1]) * (t - t0) / (t1 - t0)


@dataclass(frozen=True)
class PowerTrace:
    times: tuple[float, ...]  # seconds, strictly increasing, on the clock the run windows use
    watts: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.watts) or len(self.times) < 2:
            raise UserError(f"a power trace needs at least two samples, got {len(self.times)}",
                            hint="Sample for longer, or at a higher rate.")
        if any(b <= a for a, b in zip(self.times, self.times[1:])):
            raise UserError("power trace timestamps are not strictly increasing",
                            hint="Check the time column (units: seconds) and that the file is one capture.")

    def at(self, t: float) -> float:
        return _interp(self.times, self.watts, t)

    def covers(self, start: float, end: float) -> bool:
        return self.times[0] <= start and end <= self.times[-1]

    def energy(self, start: float, end: float) -> float:
        """Joules between start and end (trapezoid over the samples inside plus the interpolated edges)."""
        if end <= start:
            return 0.0
        inner = range(bisect_right(self.times, start), bisect_left(self.times, end))
        ts = [start, *(self.times[i] for i in inner), end]
        ws = [self.at(start), *(self.watts[i] for i in inner), self.at(end)]
        return sum((ts[k + 1] - ts[k]) * (ws[k] + ws[k + 1]) / 2 for k in range(len(ts) - 1))

    def mean_power(self, start: float, end: float) -> float:
        return self.energy(start, end) / (end - start)


@dataclass(frozen=True)
class CumulativeTrace:
    """An energy counter (joules so far) over time, e.g. Perfetto's power rails (summed): energy in a window is
    the counter's rise across it, linearly interpolated between samples; same interface as PowerTrace."""

    times: tuple[float, ...]
    joules: tuple[float, ...]

    def __post_init__(self) -> None:
        PowerTrace(self.times, self.joules)  # the same checks: >= 2 samples, increasing times
        if any(b < a for a, b in zip(self.joules, self.joules[1:])):
            raise UserError("an energy counter went backwards (a rail reset mid-trace?)",
                            hint="Capture one uninterrupted trace around the profile.")

    def _at(self, t: float) -> float:
        return _interp(self.times, self.joules, t)

    def covers(self, start: float, end: float) -> bool:
        return self.times[0] <= start and end <= self.times[-1]

    def energy(self, start: float, end: float) -> float:
        return self._at(end) - self._at(start) if end > start else 0.0

    def mean_power(self, start: float, end: float) -> float:
        return self.energy(start, end) / (end - start)


@dataclass(frozen=True)
class RunWindow:
    start: float  # run start on the trace's clock
    first_token: float  # start + time to first token: prefill ends here
    end: float


@dataclass(frozen=True)
class WindowEnergy:
    prefill_j: tuple[float, ...]  # per run, idle draw already subtracted
    decode_j: tuple[float, ...]
    idle_w: float | None  # the baseline subtracted (None: nothing subtracted)
    gross_j: float  # all runs, before subtracting idle
    warnings: tuple[str, ...] = ()


def integrate_runs(trace: PowerTrace | CumulativeTrace, windows: list[RunWindow], idle: tuple[float, float] | None,
                   what: str) -> WindowEnergy:
    """Energy per run split at the first token; minus idle_w x duration when an idle window is given."""
    warnings: list[str] = []
    for w in windows:
        if not trace.covers(w.start, w.end):
            raise UserError(f"the {what} covers {trace.times[0]:.3f}..{trace.times[-1]:.3f} s but a run spans "
                            f"{w.start:.3f}..{w.end:.3f} s: the trace and the runs are not aligned",
                            hint="Start the capture before the profile and stop it after; check that both use "
                                 "the same clock (see --power-t0 / the metrics' start_unix_s).")
    idle_w = None
    if idle is not None:
        if not trace.covers(*idle) or idle[1] - idle[0] <= 0:
            raise UserError(f"the {what} has no samples in the idle window {idle[0]:.3f}..{idle[1]:.3f} s",
                            hint="Capture a few idle seconds before the first run.")
        idle_w = trace.mean_power(*idle)
    base = idle_w or 0.0
    prefill = tuple(trace.energy(w.start, w.first_token) - base * (w.first_token - w.start) for w in windows)
    decode = tuple(trace.energy(w.first_token, w.end) - base * (w.end - w.first_token) for w in windows)
    gross = sum(trace.energy(w.start, w.end) for w in windows)
    if any(j <= 0 for j in prefill + decode):
        warnings.append(f"the {what} shows no energy above idle in some run phase: the idle baseline "
                        f"({base:.3f} W) is as high as the run's draw, so the figures are noise")
    return WindowEnergy(prefill, decode, idle_w, gross, tuple(warnings))
