"""The device metrics JSON: what an on-device runner writes and `edgeslm profile --target android|ios` reads.

One file per profiling session, written by the runner (the `--runner` binary you push today, the android_demo /
ios_demo benchmark mode later) and pulled back to the host, where it is validated here and rendered by the
same summary/report code as a host profile. Version 1:

    {
      "schema": "edgeslm-device-metrics",
      "schema_version": 1,
      "device": {"model": "Pixel 8", "soc": "Tensor G3", "os": "android", "os_version": "14",
                 "abi": "arm64-v8a"},                              # abi optional
      "runtime": {"name": "onnxruntime", "version": "1.20.0"},     # optional
      "settings": {"prompt_len": 128, "gen_len": 64, "runs": 3, "warmup": 1, "threads": 4},
      "load_ms": 812.0,                                            # open the bundle until ready to prefill
      "peak_rss_mb": 402.5,                                        # VmHWM of the runner / the app's footprint
      "runs": [                                                    # the timed runs only, in order
        {"start_unix_s": 1764160000.12, "end_unix_s": 1764160003.40,   # device wall clock, for power alignment
         "start_boottime_s": 5123.4, "end_boottime_s": 5126.7,        # optional: CLOCK_BOOTTIME (Perfetto's clock)
         "ttft_ms": 212.0,                                         # prompt in -> first answer token chosen
         "prefill_ms": 208.5,                                      # the prefill call alone
         "prefill_tok_per_s": 613.9,                               # prompt_len / prefill_ms
         "decode_tok_per_s": 21.3,                                 # len(decode_ms) / sum(decode_ms)
         "decode_ms": [46.1, 47.0, ...]}                           # one entry per generated token (gen_len)
      ],
      "battery": {"current_unit": "uA", "voltage_unit": "uV",      # optional: the runner's own battery samples
                  "samples": [{"t_unix_s": 1764159995.0, "current": -412000, "voltage": 3871000}, ...]}
    }

The throughputs are written by the runner *and* derived here from the latencies: a mismatch beyond 5 % means the
runner timed something else, and the file is refused rather than reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeslm.errors import UserError

SCHEMA_NAME = "edgeslm-device-metrics"
METRICS_SCHEMA_VERSION = 1
DEVICE_OSES = ("android", "ios", "linux")  # linux: edgeslm-runner on an arm64 board (Raspberry Pi 5, Jetson)
CURRENT_UNITS = ("uA", "mA", "A")
VOLTAGE_UNITS = ("uV", "mV", "V")
_RATE_TOLERANCE = 0.05
_HINT = ("The on-device runner must write the metrics JSON described in edgeslm/profile/metrics_schema.py "
         f"(schema {SCHEMA_NAME!r}, version {METRICS_SCHEMA_VERSION}).")


class _Bad(Exception):
    pass


def _num(obj: dict, key: str, where: str, *, positive: bool = True, optional: bool = False) -> float | None:
    if key not in obj:
        if optional:
            return None
        raise _Bad(f"{where}: missing {key!r}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _Bad(f"{where}.{key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise _Bad(f"{where}.{key} must be > 0, got {value!r}")
    return float(value)


def _int(obj: dict, key: str, where: str, minimum: int = 1) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{where}: {key!r} must be an integer, got {value!r}")
    if value < minimum:
        raise _Bad(f"{where}.{key} must be >= {minimum}, got {value}")
    return value


def _str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def _table(obj: dict, key: str, where: str, *, optional: bool = False) -> dict | None:
    if key not in obj and optional:
        return None
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _Bad(f"{where}: {key!r} must be an object, got {type(value).__name__}")
    return value


def _unknown(obj: dict, known: set[str], where: str) -> None:
    extra = sorted(set(obj) - known)
    if extra:  # a misspelt key would otherwise silently drop a measurement
        raise _Bad(f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(known))})")


def _check_run(run: Any, index: int, settings: dict) -> None:
    where = f"runs[{index}]"
    if not isinstance(run, dict):
        raise _Bad(f"{where} must be an object")
    _unknown(run, {"start_unix_s", "end_unix_s", "start_boottime_s", "end_boottime_s", "ttft_ms", "prefill_ms",
                   "prefill_tok_per_s", "decode_tok_per_s", "decode_ms"}, where)
    start, end = _num(run, "start_unix_s", where), _num(run, "end_unix_s", where)
    if end <= start:
        raise _Bad(f"{where}: end_unix_s {end} is not after start_unix_s {start}")
    boot = (_num(run, "start_boottime_s", where, optional=True), _num(run, "end_boottime_s", where, optional=True))
    if (boot[0] is None) != (boot[1] is None) or (boot[0] is not None and boot[1] <= boot[0]):
        raise _Bad(f"{where}: start_boottime_s/end_boottime_s must both be given, end after start")
    ttft, prefill = _num(run, "ttft_ms", where), _num(run, "prefill_ms", where)
    if ttft < prefill * 0.999:
        raise _Bad(f"{where}: ttft_ms {ttft} is shorter than prefill_ms {prefill} (TTFT includes the prefill)")
    decode = run.get("decode_ms")
    if not isinstance(decode, list) or not decode:
        raise _Bad(f"{where}: decode_ms must be a non-empty list of per-token milliseconds")
    for i, value in enumerate(decode):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise _Bad(f"{where}.decode_ms[{i}] must be a number > 0, got {value!r}")
    if len(decode) != settings["gen_len"]:
        raise _Bad(f"{where}: {len(decode)} decode_ms entries, settings.gen_len is {settings['gen_len']}")
    for key, derived in (("prefill_tok_per_s", settings["prompt_len"] / (prefill / 1000)),
                         ("decode_tok_per_s", len(decode) / (sum(decode) / 1000))):
        written = _num(run, key, where)
        if abs(written - derived) > _RATE_TOLERANCE * derived:
            raise _Bad(f"{where}.{key} = {written:.2f} but the latencies give {derived:.2f} "
                       f"(more than {_RATE_TOLERANCE:.0%} apart: the runner timed something else)")


def _check_battery(battery: dict) -> None:
    _unknown(battery, {"current_unit", "voltage_unit", "samples"}, "battery")
    if battery.get("current_unit") not in CURRENT_UNITS:
        raise _Bad(f"battery.current_unit must be one of {', '.join(CURRENT_UNITS)}, got {battery.get('current_unit')!r}")
    if battery.get("voltage_unit") not in VOLTAGE_UNITS:
        raise _Bad(f"battery.voltage_unit must be one of {', '.join(VOLTAGE_UNITS)}, got {battery.get('voltage_unit')!r}")
    samples = battery.get("samples")
    if not isinstance(samples, list):
        raise _Bad("battery.samples must be a list")
    for i, s in enumerate(samples):
        if not isinstance(s, dict):
            raise _Bad(f"battery.samples[{i}] must be an object")
        _unknown(s, {"t_unix_s", "current", "voltage"}, f"battery.samples[{i}]")
        _num(s, "t_unix_s", f"battery.samples[{i}]")
        _num(s, "current", f"battery.samples[{i}]", positive=False)
        _num(s, "voltage", f"battery.samples[{i}]")


def validate(data: Any) -> dict:
    """Raise _Bad with the first problem; return `data` unchanged when it is a valid version-1 file."""
    if not isinstance(data, dict):
        raise _Bad(f"the top level must be an object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA_NAME:
        raise _Bad(f"schema is {data.get('schema')!r}, expected {SCHEMA_NAME!r}")
    version = data.get("schema_version")
    if version != METRICS_SCHEMA_VERSION:
        newer = isinstance(version, int) and version > METRICS_SCHEMA_VERSION
        raise _Bad(f"schema_version {version!r} is not {METRICS_SCHEMA_VERSION}"
                   + (" (written by a newer runner: upgrade edgeslm)" if newer else ""))
    _unknown(data, {"schema", "schema_version", "device", "runtime", "settings", "load_ms", "peak_rss_mb", "runs",
                    "battery"}, "metrics")
    device = _table(data, "device", "metrics")
    _unknown(device, {"model", "soc", "os", "os_version", "abi"}, "device")
    for key in ("model", "soc", "os", "os_version"):
        _str(device, key, "device")
    if device["os"] not in DEVICE_OSES:
        raise _Bad(f"device.os must be one of {', '.join(DEVICE_OSES)}, got {device['os']!r}")
    runtime = _table(data, "runtime", "metrics", optional=True)
    if runtime is not None:
        _unknown(runtime, {"name", "version"}, "runtime")
        _str(runtime, "name", "runtime")
        _str(runtime, "version", "runtime")
    settings = _table(data, "settings", "metrics")
    _unknown(settings, {"prompt_len", "gen_len", "runs", "warmup", "threads"}, "settings")
    for key in ("prompt_len", "gen_len", "runs", "threads"):
        _int(settings, key, "settings")
    _int(settings, "warmup", "settings", minimum=0)
    _num(data, "load_ms", "metrics")
    _num(data, "peak_rss_mb", "metrics")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise _Bad("runs must be a non-empty list of timed runs")
    if len(runs) != settings["runs"]:
        raise _Bad(f"{len(runs)} runs written, settings.runs is {settings['runs']}")
    for index, run in enumerate(runs):
        _check_run(run, index, settings)
    battery = _table(data, "battery", "metrics", optional=True)
    if battery is not None:
        _check_battery(battery)
    return data


def load_metrics(path: Path) -> dict:
    """Read and validate a metrics file; every problem is a UserError naming the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read the device metrics {path}: {exc.strerror}", hint=_HINT) from None
    except ValueError as exc:
        raise UserError(f"the device metrics {path} is not valid JSON ({exc})", hint=_HINT) from None
    try:
        return validate(data)
    except _Bad as exc:
        raise UserError(f"the device metrics {path} is invalid: {exc}", hint=_HINT) from None


def to_raw(metrics: dict) -> dict:
    """The validated metrics in the host worker's raw layout, so that summary.summarize renders both alike."""
    d = metrics["device"]
    s = metrics["settings"]
    return {
        "load_s": metrics["load_ms"] / 1000,
        "runs": [{"prefill_s": r["ttft_ms"] / 1000, "decode_latencies_s": [ms / 1000 for ms in r["decode_ms"]]}
                 for r in metrics["runs"]],
        "peak_rss_mb": metrics["peak_rss_mb"],
        "threads": s["threads"],
        "prompt_len": s["prompt_len"],
        "gen_len": s["gen_len"],
        "operators": [],
        "device": {"where": d["os"], "cpu": f"{d['model']} ({d['soc']}, {d['os']} {d['os_version']})",
                   **{k: v for k, v in d.items()}, "runtime": metrics.get("runtime")},
    }


def run_windows(metrics: dict, clock: str = "unix") -> list[tuple[float, float]]:
    """(start, end) of every timed run on the device clock `unix` or `boottime` (seconds)."""
    keys = ("start_unix_s", "end_unix_s") if clock == "unix" else ("start_boottime_s", "end_boottime_s")
    if any(keys[0] not in r for r in metrics["runs"]):
        raise UserError(f"the device metrics carry no {keys[0]} for every run, needed to align a {clock}-clock "
                        "power trace", hint=_HINT)
    return [(r[keys[0]], r[keys[1]]) for r in metrics["runs"]]
