"""Measured energy from samples: trapezoid integration, battery units and signs, Monsoon CSV and Perfetto rails.
Every input is synthetic, with an energy known in closed form."""

import json

import pytest

from edgeslm.errors import UserError
from edgeslm.profile import battery, energy, power_import
from edgeslm.profile.power_trace import CumulativeTrace, PowerTrace, RunWindow, integrate_runs


def test_trapezoid_is_exact_on_piecewise_linear_power():
    trace = PowerTrace((0.0, 1.0, 2.0, 4.0), (1.0, 3.0, 3.0, 1.0))
    assert trace.energy(0.0, 4.0) == pytest.approx(2.0 + 3.0 + 4.0)
    assert trace.energy(0.5, 1.5) == pytest.approx(0.5 * (2.0 + 3.0) / 2 + 0.5 * 3.0)  # edges interpolated
    assert trace.energy(3.0, 3.0) == 0.0 and trace.mean_power(1.0, 2.0) == pytest.approx(3.0)
    with pytest.raises(UserError, match="not strictly increasing"):
        PowerTrace((0.0, 0.0), (1.0, 1.0))
    with pytest.raises(UserError, match="at least two samples"):
        PowerTrace((0.0,), (1.0,))


def test_runs_split_at_the_first_token_and_idle_subtracted():
    # 1 W idle for 10 s, then 4 W for prefill (1 s) and 3 W for decode (2 s)
    trace = PowerTrace((0.0, 9.999, 10.0, 10.999, 11.0, 13.0, 13.001, 20.0), (1, 1, 4, 4, 3, 3, 1, 1))
    we = integrate_runs(trace, [RunWindow(10.0, 11.0, 13.0)], (2.0, 8.0), "t")
    assert we.idle_w == pytest.approx(1.0)
    assert we.prefill_j[0] == pytest.approx(3.0, abs=0.01) and we.decode_j[0] == pytest.approx(4.0, abs=0.01)
    gross = integrate_runs(trace, [RunWindow(10.0, 11.0, 13.0)], None, "t")
    assert gross.idle_w is None and gross.decode_j[0] == pytest.approx(6.0, abs=0.01)
    with pytest.raises(UserError, match="not aligned"):
        integrate_runs(trace, [RunWindow(19.0, 20.0, 21.0)], None, "t")
    flat = integrate_runs(PowerTrace((0.0, 30.0), (2.0, 2.0)), [RunWindow(10.0, 11.0, 12.0)], (0.0, 5.0), "t")
    assert flat.warnings and "noise" in flat.warnings[0]


def test_energy_report_from_windows():
    report = energy.from_windows((0.2, 0.4), (1.0, 3.0), prompt_len=10, gen_len=4, method="m", source="s",
                                 grid_g_per_kwh=500)
    assert report.kind == "measured" and report.j_per_answer == pytest.approx(2.3)
    assert report.prefill_j_per_token == pytest.approx(0.03) and report.decode_j_per_token == pytest.approx(0.5)
    assert report.tokens_per_j == pytest.approx(2.0) and report.co2e_g_per_answer == pytest.approx(2.3 / 3.6e6 * 500)
    assert energy.from_windows((0.1,), (0.1,), 1, 1, "m", "s").co2e_g_per_answer is None


@pytest.mark.parametrize("current, voltage, units", [
    (-450_000, 3_870_000, ("uA", "uV")),  # the kernel ABI, Pixel sign
    (450_000, 3_870_000, ("uA", "uV")),  # Samsung sign
    (-450, 3870, ("mA", "mV")),  # drivers that report milli-units
    (0.45, 3.87, ("A", "V")),
], ids=["uA-negative", "uA-positive", "mA-mV", "A-V"])
def test_battery_units_and_sign(current, voltage, units):
    samples = [battery.Sample(float(t), current, voltage) for t in range(11)]
    assert battery.infer_units(samples) == units
    trace, notes = battery.to_trace(samples)
    assert trace.energy(0.0, 10.0) == pytest.approx(0.45 * 3.87 * 10, rel=1e-9)  # always positive discharge
    assert units[0] in notes[0] and ("negative" if current < 0 else "positive") in notes[0]


def test_battery_minority_sign_and_zero_current():
    samples = [battery.Sample(float(t), -500_000 if t != 5 else 200_000, 3_900_000) for t in range(11)]
    trace, notes = battery.to_trace(samples)
    assert "1 of 11 samples have the charging sign" in notes[1]
    assert trace.at(5.0) == pytest.approx(-0.2 * 3.9)
    with pytest.raises(UserError, match="does not report current_now"):
        battery.to_trace([battery.Sample(float(t), 0, 3_900_000) for t in range(3)])


def test_dumpsys_battery_parsing():
    usb = battery.parse_dumpsys_battery("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                                        "  Wireless powered: false\n  status: 2\n  level: 80\n")
    assert usb.charging and usb.powered_by == ("USB",) and usb.status_charging
    faked = battery.parse_dumpsys_battery("Current Battery Service state:\n  (UPDATES STOPPED -- use 'reset' to "
                                          "restart)\n  AC powered: false\n  USB powered: false\n  status: 3\n")
    assert not faked.charging and faked.updates_stopped
    with pytest.raises(UserError, match="no power-source lines"):
        battery.parse_dumpsys_battery("Can't find service: battery")


def test_sampler_output():
    samples = battery.parse_sampler_output("1700000000.100000000 -412000 3871000\n\n1700000000.300 -413000 3870000\n")
    assert [s.t_s for s in samples] == [1700000000.1, 1700000000.3] and samples[0].current == -412000
    with pytest.raises(UserError, match="line 1 is not `time current voltage`"):
        battery.parse_sampler_output("1700000000.N -412000 3871000\n")


@pytest.mark.parametrize("header, row", [
    ("Time(s),Main(mA),Main Voltage(V)", "{t},500,4"),
    ("Time (s), Main Avg Current (mA), Main Voltage (V), USB Avg Current (mA)", "{t},500,4,0"),
    ("time_s,current_a,voltage_v", "{t},0.5,4"),
    ("Time(s),Main Avg Power (mW)", "{t},2000"),
    ("timestamp,power_w", "{t},2"),
], ids=["monsoon-powertool", "monsoon-avg", "snake-amps", "power-mw", "power-w"])
def test_power_csv_header_variants(tmp_path, header, row):
    path = tmp_path / "p.csv"
    path.write_text(header + "\n" + "\n".join(row.format(t=0.5 * i) for i in range(21)) + "\n")
    capture = power_import.read_power_csv(path, t0_unix_s=1000.0)
    assert capture.clock == "unix" and capture.trace.times[0] == 1000.0
    assert capture.trace.energy(1001.0, 1009.0) == pytest.approx(16.0)  # 2 W x 8 s
    assert "power monitor CSV" in capture.method


def test_power_csv_errors(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("when,amps\n0,1\n1,1\n")
    with pytest.raises(UserError, match="cannot find the columns"):
        power_import.read_power_csv(path)
    path.write_text("Time(s),Main(mA),Main Voltage(V)\n0,1,4\n1,x,4\n")
    with pytest.raises(UserError, match="line 3 is not numeric"):
        power_import.read_power_csv(path, 0.0)
    path.write_text("Time(s),Main(mA),Main Voltage(V)\n0,1,4\n1,1,4\n")
    with pytest.raises(UserError, match="relative times"):
        power_import.read_power_csv(path)
    absolute = power_import.read_power_csv(path, 1.7e9)
    assert absolute.trace.times[0] == 1.7e9


def _rails(ts_values):
    out = []
    for ts, a, b in ts_values:  # two rails, cumulative µWs, one battery counter to be ignored
        out += [{"rail": "power.rails.cpu.big", "ts": ts, "value": a}, {"rail": "power.rails.ddr", "ts": ts, "value": b},
                {"rail": "batt.current_ua", "ts": ts, "value": -1}]
    return out


RAIL_ROWS = _rails([(int(1e9 * t), 1e6 * 2 * t, 1e6 * 0.5 * t) for t in range(0, 11)])  # 2 W + 0.5 W


def test_perfetto_rail_exports(tmp_path):
    as_json = tmp_path / "rails.json"
    as_json.write_text(json.dumps(RAIL_ROWS))
    as_csv = tmp_path / "rails.csv"
    as_csv.write_text('"rail","ts","value"\n' + "".join(f'"{r["rail"]}",{r["ts"]},{r["value"]}\n' for r in RAIL_ROWS))
    for path in (as_json, as_csv):
        capture = power_import.read_perfetto(path)
        assert capture.clock == "boottime" and "2 rails summed" in capture.method
        assert isinstance(capture.trace, CumulativeTrace)
        assert capture.trace.energy(2.0, 6.5) == pytest.approx(2.5 * 4.5)


def test_perfetto_errors(tmp_path):
    none = tmp_path / "none.json"
    none.write_text(json.dumps([{"rail": "batt.current_ua", "ts": 1, "value": 1}]))
    with pytest.raises(UserError, match="no power.\\* rail counters"):
        power_import.read_perfetto(none)
    binary = tmp_path / "trace.pftrace"
    binary.write_bytes(b"\x0a\x8f\x01binary perfetto trace")
    with pytest.raises(UserError, match="binary trace") as err:
        power_import.read_perfetto(binary)
    assert "trace_processor_shell" in err.value.hint
    backwards = tmp_path / "b.json"
    backwards.write_text(json.dumps([{"rail": "power.x", "ts": 0, "value": 5}, {"rail": "power.x", "ts": 1e9, "value": 1}]))
    with pytest.raises(UserError, match="went backwards"):
        power_import.read_perfetto(backwards)


def test_device_energy_from_perfetto_needs_boottime(tmp_path):
    path = tmp_path / "rails.json"
    path.write_text(json.dumps(RAIL_ROWS))
    capture = power_import.read_perfetto(path)
    run = {"start_unix_s": 1000.0, "end_unix_s": 1001.0, "start_boottime_s": 2.0, "end_boottime_s": 3.0,
           "ttft_ms": 200.0, "prefill_ms": 190.0, "prefill_tok_per_s": 16 / 0.19, "decode_tok_per_s": 4 / 0.8,
           "decode_ms": [200.0] * 4}
    metrics = {"settings": {"prompt_len": 16, "gen_len": 4, "runs": 1, "warmup": 0, "threads": 4}, "runs": [run]}
    report = power_import.device_energy(capture, metrics, (990.0, 995.0), None)
    assert report.j_per_answer == pytest.approx(2.5) and report.decode_j_per_token == pytest.approx(0.5)
    assert "gross" in report.method  # the unix idle window cannot be used on the boottime clock
    del run["start_boottime_s"], run["end_boottime_s"]
    with pytest.raises(UserError, match="no start_boottime_s"):
        power_import.device_energy(capture, metrics, None, None)


T0 = 1_700_000_000.0  # absolute unix seconds


def test_host_energy_scales_the_span_by_the_timed_share(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("time_s,power_w\n" + "".join(f"{T0 + i},10\n" for i in range(0, 21)))
    capture = power_import.read_power_csv(path)
    # two answers of 1 s prefill + 10 tokens at 5 tok/s (2 s) = 6 s timed inside a 10 s worker span
    profile = {"settings": {"prompt_len": 8, "gen_len": 10},
               "per_answer": [{"prefill_s": 1.0, "decode_tok_per_s": 5.0}, {"prefill_s": 1.0, "decode_tok_per_s": 5.0}]}
    report = power_import.host_energy(capture, profile, (T0 + 5.0, T0 + 15.0), 1, None)
    assert report.kind == "measured" and report.j_per_answer == pytest.approx(100.0 * 0.6 / 2)
    assert report.prefill_j_per_token == pytest.approx(30.0 / 3 / 8) and "share (0.60" in report.method
    with pytest.raises(UserError, match="covers"):
        power_import.host_energy(capture, profile, (T0 - 10.0, T0 + 15.0), 1, None)
