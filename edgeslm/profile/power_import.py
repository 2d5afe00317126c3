"""Measured energy from an external power capture: a Monsoon-style CSV or a Perfetto trace's power rails.

`--power-csv FILE`: one row per sample; the header names the columns (case, spaces and punctuation ignored):
  time      `Time(s)`, `Time (s)`, `time_s`, `t`, `timestamp` -- seconds; relative to the capture's start
            (then give --power-t0 UNIX_S, the device's unix time of t = 0) or absolute unix seconds (> 1e9)
  current   `Main(mA)`, `Main Current (mA)`, `Main Avg Current (mA)`, `current_ma`, `Current (mA)` -- mA;
            or `current_a` / `Current (A)` in A
  voltage   `Main Voltage (V)`, `Main Voltage(V)`, `voltage_v`, `Voltage (V)` -- V
  power     instead of current x voltage: `Main Avg Power (mW)`, `power_mw` (mW) or `power_w` / `Power (W)` (W)
`--perfetto FILE`: the `power.*` energy counters (Android power rails, cumulative µWs = µJ; summed over rails) on
  the trace clock (CLOCK_BOOTTIME, ns), aligned with the metrics' start_boottime_s. A raw trace is read with the
  `perfetto` package's TraceProcessor, which needs a local `trace_processor_shell` (it downloads one otherwise,
  impossible offline); or pass the rails exported by
      trace_processor_shell -Q "select t.name as rail, c.ts, c.value from counter c join counter_track t
                               on c.track_id = t.id where t.name glob 'power.*' order by c.ts" TRACE > rails.csv
  (columns rail/name, ts, value; or a JSON list of such objects).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgeslm.errors import UserError
from edgeslm.profile import energy
from edgeslm.profile.energy import EnergyReport
from edgeslm.profile.power_trace import CumulativeTrace, PowerTrace, RunWindow, integrate_runs

TIME_COLUMNS = ("times", "time", "timestamp", "t", "ts", "timesec")
CURRENT_COLUMNS = {"mainma": 1e-3, "maincurrentma": 1e-3, "mainavgcurrentma": 1e-3, "currentma": 1e-3,
                   "currenta": 1.0, "maincurrenta": 1.0}
VOLTAGE_COLUMNS = {"mainvoltagev": 1.0, "voltagev": 1.0, "mainv": 1.0, "mainvoltagemv": 1e-3, "voltagemv": 1e-3}
POWER_COLUMNS = {"mainavgpowermw": 1e-3, "mainpowermw": 1e-3, "powermw": 1e-3, "powerw": 1.0, "mainpowerw": 1.0}
CSV_HINT = ("Accepted columns: time (s), main current (mA) and main voltage (V), or power (mW/W); see "
            "edgeslm/profile/power_import.py.")
PERFETTO_HINT = ("Export the rails with trace_processor_shell (query in edgeslm/profile/power_import.py) and pass "
                 "that CSV, or put trace_processor_shell on PATH.")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Capture:
    trace: PowerTrace | CumulativeTrace
    clock: str  # "unix" | "boottime": which run timestamps it aligns with
    method: str
    source: str


def read_power_csv(path: Path, t0_unix_s: float | None = None) -> Capture:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read --power-csv {path}: {exc.strerror}", hint=CSV_HINT) from None
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if len(rows) < 3:
        raise UserError(f"--power-csv {path} has {max(len(rows) - 1, 0)} samples; at least 2 are needed", hint=CSV_HINT)
    header = [_key(h) for h in rows[0]]

    def find(options) -> tuple[int, float] | None:
        for i, h in enumerate(header):
            if h in options:
                return i, options[h] if isinstance(options, dict) else 1.0
        return None

    t_col, cur, volt, power = find(TIME_COLUMNS), find(CURRENT_COLUMNS), find(VOLTAGE_COLUMNS), find(POWER_COLUMNS)
    if t_col is None or (power is None and (cur is None or volt is None)):
        raise UserError(f"--power-csv {path}: cannot find the columns in header {rows[0]}", hint=CSV_HINT)
    times, watts = [], []
    for number, row in enumerate(rows[1:], 2):
        try:
            t = float(row[t_col[0]])
            w = (float(row[power[0]]) * power[1] if power is not None
                 else float(row[cur[0]]) * cur[1] * float(row[volt[0]]) * volt[1])
        except (IndexError, ValueError):
            raise UserError(f"--power-csv {path} line {number} is not numeric: {row}", hint=CSV_HINT) from None
        times.append(t)
        watts.append(w)
    absolute = times[0] > 1e9
    if not absolute:
        if t0_unix_s is None:
            raise UserError(f"--power-csv {path} has relative times ({times[0]:g} s first): the run cannot be "
                            "located in it", hint="Pass --power-t0 UNIX_SECONDS: the device's unix time at the "
                                                  "capture's t = 0 (or export absolute unix times).")
        times = [t + t0_unix_s for t in times]
    columns = f"{rows[0][power[0]]}" if power is not None else f"{rows[0][cur[0]]} x {rows[0][volt[0]]}"
    return Capture(PowerTrace(tuple(times), tuple(watts)), "unix",
                   f"external power monitor CSV ({columns}), integrated over the runs (trapezoid)"
                   + ("" if absolute else f", t = 0 at unix {t0_unix_s}"), str(path))


def _rails_from_rows(rows: list[dict], where: str) -> dict[str, list[tuple[float, float]]]:
    rails: dict[str, list[tuple[float, float]]] = {}
    for i, row in enumerate(rows):
        low = {_key(k): v for k, v in row.items()}
        name = low.get("rail", low.get("name"))
        try:
            ts, value = float(low["ts"]), float(low["value"])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{where} row {i + 1} needs rail/name, ts and value: {row}", hint=PERFETTO_HINT) from None
        if name is None or not str(name).startswith("power."):
            continue  # battery counters and other tracks: not power rails
        rails.setdefault(str(name), []).append((ts, value))
    if not rails:
        raise UserError(f"{where} holds no power.* rail counters",
                        hint="Record the trace with the android.power data source and collect_power_rails: true.")
    return rails


def rails_to_trace(rails: dict[str, list[tuple[float, float]]]) -> CumulativeTrace:
    """Sum the rails' cumulative µWs at every timestamp any rail has (each interpolated) -> joules on seconds."""
    from edgeslm.profile.power_trace import _interp

    series = {}
    for name, points in rails.items():
        points = sorted(points)
        series[name] = (tuple(p[0] / 1e9 for p in points), tuple(p[1] * 1e-6 for p in points))
    start = max(ts[0] for ts, _ in series.values())  # only where every rail has a reading
    end = min(ts[-1] for ts, _ in series.values())
    grid = sorted({t for ts, _ in series.values() for t in ts if start <= t <= end})
    joules = [sum(_interp(ts, vals, t) for ts, vals in series.values()) for t in grid]
    return CumulativeTrace(tuple(grid), tuple(joules))


def read_perfetto(path: Path) -> Capture:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--perfetto {path} is not a file", hint=PERFETTO_HINT)
    head = path.read_bytes()[:64].lstrip()
    if head[:1] in (b"[", b"{"):
        data = json.loads(path.read_text())
        rails = _rails_from_rows(data if isinstance(data, list) else data.get("rows", []), f"--perfetto {path}")
        how = "power-rail JSON exported from trace_processor_shell"
    elif head.lower().startswith((b'"rail"', b"rail", b'"name"', b"name")):
        rails = _rails_from_rows(list(csv.DictReader(path.read_text().splitlines())), f"--perfetto {path}")
        how = "power-rail CSV exported from trace_processor_shell"
    else:
        rails, how = _rails_from_trace(path), "Perfetto trace read with perfetto.trace_processor"
    names = ", ".join(sorted(rails))
    return Capture(rails_to_trace(rails), "boottime",
                   f"Perfetto power rails ({how}; {len(rails)} rails summed: {names}), energy counter rise over "
                   "each run phase; the rails cover the SoC and memory, not the screen or the battery", str(path))


def _rails_from_trace(path: Path) -> dict[str, list[tuple[float, float]]]:
    try:
        from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig
    except ImportError:
        raise UserError(f"--perfetto {path} is a binary trace and the `perfetto` package is not installed",
                        hint="pip install perfetto, or " + PERFETTO_HINT) from None
    shell = shutil.which("trace_processor_shell")
    if shell is None:  # TraceProcessor would otherwise try to download the binary
        raise UserError(f"--perfetto {path} is a binary trace and no trace_processor_shell is on PATH",
                        hint=PERFETTO_HINT)
    query = ("select t.name as rail, c.ts as ts, c.value as value from counter c join counter_track t "
             "on c.track_id = t.id where t.name glob 'power.*' order by c.ts")
    with TraceProcessor(trace=str(path), config=TraceProcessorConfig(bin_path=shell)) as tp:
        rows = [{"rail": r.rail, "ts": r.ts, "value": r.value} for r in tp.query(query)]
    return _rails_from_rows(rows, f"--perfetto {path}")


def device_energy(capture: Capture, metrics: dict, idle: tuple[float, float] | None,
                  grid_g_per_kwh: float | None) -> EnergyReport:
    """Per-run prefill/decode energy from a capture on the device's clock (metrics' run timestamps)."""
    from edgeslm.profile.metrics_schema import run_windows

    windows = [RunWindow(s, s + r["ttft_ms"] / 1000, e)
               for (s, e), r in zip(run_windows(metrics, capture.clock), metrics["runs"])]
    if idle is not None and (capture.clock != "unix" or not capture.trace.covers(*idle)):
        idle = None  # the android idle window is on the unix clock; a boottime trace cannot use it
    we = integrate_runs(capture.trace, windows, idle, f"capture {capture.source}")
    baseline = (f"minus the idle draw ({we.idle_w:.3f} W)" if we.idle_w is not None
                else "gross (no idle baseline subtracted)")
    s = metrics["settings"]
    return energy.from_windows(we.prefill_j, we.decode_j, s["prompt_len"], s["gen_len"],
                               f"{capture.method}, {baseline}", capture.source, grid_g_per_kwh,
                               not we.warnings, we.warnings)


def host_energy(capture: Capture, profile: dict, span: tuple[float, float], warmup: int,
                grid_g_per_kwh: float | None) -> EnergyReport:
    """A host run records no per-run timestamps: the worker's whole span (unix clock) is integrated and scaled
    by the timed runs' share of it, the same split as for RAPL."""
    if capture.clock != "unix":
        raise UserError("a Perfetto power-rail trace is on the phone's boottime clock; a host run cannot be "
                        "aligned with it", hint="Use --perfetto with --target android, or --power-csv on the host.")
    if not capture.trace.covers(*span):
        raise UserError(f"the capture {capture.source} covers {capture.trace.times[0]:.3f}..{capture.trace.times[-1]:.3f}"
                        f" but the profile ran {span[0]:.3f}..{span[1]:.3f} (unix s)",
                        hint="Start the capture before the profile and stop it after (check --power-t0).")
    joules = capture.trace.energy(*span)
    answers = profile["per_answer"]
    busy_run = [a["prefill_s"] + profile["settings"]["gen_len"] / a["decode_tok_per_s"] for a in answers]
    timed = sum(busy_run)
    share = timed / max(span[1] - span[0], timed)
    prefill = sum(a["prefill_s"] for a in answers) / timed
    s = profile["settings"]
    return energy.measured(joules * share, prefill, s["prompt_len"], s["gen_len"], len(answers), grid_g_per_kwh,
                           method=f"{capture.method}, over the profiling worker's span x the timed runs' share "
                                  f"({share:.2f}; load, {warmup} warm-up and start-up excluded by time share)",
                           source=capture.source)
