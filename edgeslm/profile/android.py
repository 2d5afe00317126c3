"""`edgeslm profile BUNDLE --target android [--serial ID] [--runner PATH]`: measure on a phone over adb.

What runs on the phone, first found:
  a. --runner PATH: an executable taking the contract below (and libonnxruntime.so beside it, if there is one);
  b. the runner `edgeslm build-runner --ndk DIR` built (runtime/ with the NDK; cached under ~/.cache/edgeslm);
  c. the installed android_demo app's benchmark mode (profile/android_app.py: `am start` with extras).
With none of them, the error names the two commands that make one.

Steps (every one a real `adb` command, see `Adb.argv`):
  1. `adb devices -l`: pick the device (--serial, or the only one attached; unauthorized/offline explained).
  2. `adb -s ID push --sync BUNDLE /data/local/tmp/edgeslm/` -> /data/local/tmp/edgeslm/<bundle name>/
     (app mode: into the app's external files dir instead)
  3. `adb -s ID push RUNNER /data/local/tmp/edgeslm/bin/edgeslm-runner` (+ libonnxruntime.so) and `chmod 755` it.
  4. battery: `dumpsys battery` (charging?), then a shell sampler on the phone writes
     `date +%s.%N`, current_now, voltage_now every 0.2 s; --idle-s seconds of idle baseline first.
  5. run the runner on the phone with the documented arguments (below); its exit status is adb's.
  6. `adb pull` the metrics JSON (metrics_schema) and the battery samples; render like a host profile.

Runner contract (what edgeslm-runner (runtime/runner/main.cpp) and a `--runner` executable accept; the android_demo
benchmark mode takes the same settings as intent extras):

    edgeslm-runner --bundle DIR --prompt-len N --gen-len N --runs N --warmup N --threads N --output FILE

It loads the bundle in DIR, runs `warmup` untimed and `runs` timed greedy answers of `gen_len` tokens to a
`prompt_len`-token prompt, and writes FILE as the metrics JSON of edgeslm/profile/metrics_schema.py. Exit 0 on
success; on failure a non-zero exit and a message on stderr (its tail is shown to the user).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeslm.errors import UserError
from edgeslm.profile import battery, energy
from edgeslm.profile.device import (DeviceSpec, build_profile, check_bundle, check_lengths, check_settings,
                                    run_tool)
from edgeslm.profile.device_choice import choose_one
from edgeslm.profile.metrics_schema import load_metrics, run_windows
from edgeslm.profile.power_trace import RunWindow, integrate_runs

REMOTE_ROOT = "/data/local/tmp/edgeslm"
REMOTE_RUNNER = f"{REMOTE_ROOT}/bin/edgeslm-runner"
REMOTE_ORT = f"{REMOTE_ROOT}/bin/libonnxruntime.so"
APP_TIMEOUT_S = 3600
NO_RUNNER_HINT = ("Make one of the two: build the native runner with your NDK, `edgeslm build-runner --ndk "
                  "~/Android/Sdk/ndk/<version>`, or install the demo app, `cd android_demo && ./gradlew installDebug` "
                  "(see README, Android). Or pass --runner PATH, an arm64 executable taking the arguments documented "
                  "in edgeslm/profile/android.py.")
SAMPLE_PERIOD_S = 0.2
INSTALL_HINT = ("Install the Android platform tools: `sudo apt-get install adb` (Debian/Ubuntu), "
                "`brew install android-platform-tools` (macOS), or the SDK Platform-Tools zip from "
                "developer.android.com/tools/releases/platform-tools, and put `adb` on PATH.")
# The sampler runs on the phone so that sample times are the phone's clock (the runner's start_unix_s) and adb's
# round-trip latency does not decide the sample rate.
SAMPLER_SCRIPT = f"""#!/system/bin/sh
# edgeslm battery sampler: time (unix s.ns), current_now, voltage_now -- until killed
while true; do
  echo "$(date +%s.%N) $(cat {battery.SYSFS}/current_now) $(cat {battery.SYSFS}/voltage_now)"
  sleep {SAMPLE_PERIOD_S}
done
"""


@dataclass(frozen=True)
class AdbDevice:
    serial: str
    state: str  # "device" | "unauthorized" | "offline" | ...
    description: str  # the rest of the `adb devices -l` line (model:..., transport_id:...)


def parse_devices(text: str) -> list[AdbDevice]:
    """`adb devices -l` output -> devices (daemon start-up chatter and the header line are skipped)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("*") or line.startswith("List of devices"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            out.append(AdbDevice(parts[0], parts[1], " ".join(parts[2:])))
    return out


def choose_device(devices: list[AdbDevice], serial: str | None) -> AdbDevice:
    device = choose_one(
        devices, serial, matches=lambda d, s: d.serial == s, label=lambda d: f"{d.serial} ({d.state})",
        noun="device", unknown_hint="Run `adb devices -l` and pass one of its serials to --serial.",
        many_hint="Pick one with --serial SERIAL.",
        none=UserError("no Android device is attached (`adb devices` lists none)",
                       hint="Connect the phone with USB debugging on (Settings > Developer options), or use "
                            "wireless debugging: `adb pair HOST:PORT` then `adb connect HOST:PORT`."))
    if device.state == "unauthorized":
        raise UserError(f"device {device.serial} has not authorized this computer for USB debugging",
                        hint="Unlock the phone and accept the 'Allow USB debugging?' prompt, then retry.")
    if device.state != "device":
        raise UserError(f"device {device.serial} is {device.state}",
                        hint="Reconnect it (`adb reconnect`), or restart adb: `adb kill-server`.")
    return device


class Adb:
    """argv construction for one device; run through device.run_tool so failures carry adb's stderr."""

    def __init__(self, exe: str, serial: str):
        self.exe, self.serial = exe, serial

    def argv(self, *args: str) -> list[str]:
        return [self.exe, "-s", self.serial, *args]

    def shell(self, command: str, what: str, timeout: float | None = 120) -> str:
        return run_tool(self.argv("shell", command), what, "Check the phone's connection: `adb devices -l`.",
                        timeout).stdout

    def push(self, local: Path, remote: str, sync: bool = False) -> None:
        args = ("push", "--sync", str(local), remote) if sync else ("push", str(local), remote)
        run_tool(self.argv(*args), f"pushing {local} to the phone", "Is there space on the phone? "
                 "`adb shell df /data/local/tmp`", timeout=1800)

    def pull(self, remote: str, local: Path, what: str) -> None:
        run_tool(self.argv("pull", remote, str(local)), f"pulling {what} from the phone",
                 "The runner must write its --output file; check `adb shell ls " + REMOTE_ROOT + "`.")


def find_adb() -> str:
    exe = shutil.which("adb")
    if exe is None:
        raise UserError("`adb` is not on PATH: profiling on an Android phone needs it", hint=INSTALL_HINT)
    return exe


def runner_argv(spec: DeviceSpec, remote_bundle: str, remote_output: str, with_library: bool = False) -> str:
    """The documented runner command line, as one `adb shell` string."""
    env = f"LD_LIBRARY_PATH={REMOTE_ROOT}/bin " if with_library else ""
    return (f"{env}{REMOTE_RUNNER} --bundle {remote_bundle} --prompt-len {spec.prompt_len} --gen-len {spec.gen_len} "
            f"--runs {spec.runs} --warmup {spec.warmup} --threads {spec.threads} --output {remote_output}")


def device_time(adb: Adb) -> float:
    """The phone's unix clock (the runner's start_unix_s is on it, not on the host's)."""
    text = adb.shell("date +%s.%N", "reading the phone's clock").strip()
    try:
        return float(text)
    except ValueError:
        raise UserError(f"the phone's `date +%s.%N` printed {text!r}, not seconds", hint="This Android's toybox "
                        "date lacks %N; battery sampling needs Android 7 or newer.") from None


def battery_energy(metrics: dict, samples_text: str | None, charge: battery.ChargeState | None,
                   idle_window: tuple[float, float] | None, spec: DeviceSpec) -> energy.EnergyReport:
    """Measured from the runner's own battery samples if it wrote any, else from the shell sampler's."""
    if metrics.get("battery") and metrics["battery"]["samples"]:
        samples, cu, vu = battery.from_metrics(metrics["battery"])
        where = "the runner's battery samples"
    else:
        samples, cu, vu = battery.parse_sampler_output(samples_text or ""), None, None
        where = f"{battery.SYSFS}/current_now x voltage_now sampled every {SAMPLE_PERIOD_S} s by a shell loop"
    trace, notes = battery.to_trace(samples, cu, vu)
    windows = [RunWindow(s, s + r["ttft_ms"] / 1000, e)
               for (s, e), r in zip(run_windows(metrics, "unix"), metrics["runs"])]
    if idle_window is not None and not trace.covers(*idle_window):
        idle_window = None
    we = integrate_runs(trace, windows, idle_window, "battery trace")
    warnings = list(we.warnings)
    meaningful = not we.warnings
    if charge is not None and charge.charging:
        meaningful = False
        source = "/".join(charge.powered_by) or "a charger"
        warnings.insert(0, f"MEANINGLESS: the phone was powered by {source} while the battery was read, so the "
                           f"gauge measured the charger as well as the model. {battery.CHARGING_HINT}")
    if charge is not None and charge.updates_stopped:
        warnings.append("`dumpsys battery unplug` was in force: Android's reported state is faked, and a "
                        "connected USB cable may still charge the battery")
    idle = (f"minus the idle draw ({we.idle_w:.3f} W over {idle_window[1] - idle_window[0]:.1f} s before the "
            "runs)") if we.idle_w is not None else "no idle baseline subtracted (none was sampled)"
    method = (f"battery gauge: integral of V x I over each run's prefill and decode windows (trapezoid), {idle}; "
              f"whole phone, includes the screen and other apps; {'; '.join(notes)}")
    return energy.from_windows(we.prefill_j, we.decode_j, metrics["settings"]["prompt_len"],
                               metrics["settings"]["gen_len"], method, where, spec.grid_g_per_kwh, meaningful,
                               tuple(warnings))


def built_runner(abi: str = "arm64-v8a") -> Path | None:
    """The runner `edgeslm build-runner --ndk DIR --abi ABI` left in the cache, if any."""
    from edgeslm.native.build import build_folder

    runner = build_folder("android", abi) / "edgeslm-runner"
    return runner if runner.is_file() else None


def choose_runner(spec: DeviceSpec) -> Path | None:
    """--runner, else the NDK-built runner; None means: use the android_demo app if it is installed."""
    if spec.runner is not None:
        if not spec.runner.is_file():
            raise UserError(f"--runner {spec.runner} is not a file", hint="Pass the path of the runner executable.")
        return spec.runner
    return built_runner()


def profile_on_android(spec: DeviceSpec, log=print) -> dict:
    manifest = check_bundle(spec.bundle, "android")
    check_lengths(spec, manifest)
    runner = choose_runner(spec)
    if runner is None and shutil.which("adb") is None:
        raise UserError("no on-device runner: no --runner, no runner built by `edgeslm build-runner`, and no adb "
                        "to look for the android_demo app", hint=NO_RUNNER_HINT)
    exe = find_adb()
    listing = run_tool([exe, "devices", "-l"], "listing devices", INSTALL_HINT).stdout
    device = choose_device(parse_devices(listing), spec.serial)
    adb = Adb(exe, device.serial)
    from edgeslm.profile import android_app

    use_app = runner is None
    if use_app and not android_app.installed(adb):
        raise UserError(f"no on-device runner: no --runner, no runner built by `edgeslm build-runner`, and the "
                        f"android_demo app ({android_app.PACKAGE}) is not installed on {device.serial}",
                        hint=NO_RUNNER_HINT)
    root = android_app.APP_ROOT if use_app else REMOTE_ROOT
    remote_bundle = f"{root}/{spec.bundle.resolve().name}"
    remote_output = f"{remote_bundle}.metrics.json"
    remote_samples = f"{REMOTE_ROOT}/battery.txt"
    adb.shell(f"mkdir -p {REMOTE_ROOT}/bin {root} && rm -f {remote_output} {remote_samples}", "preparing the folder")
    log(f"pushing {spec.bundle} to {device.serial}:{remote_bundle}")
    adb.push(spec.bundle.resolve(), f"{root}/", sync=True)  # a folder pushed into a folder keeps its name
    library = None if use_app else runner.parent / "libonnxruntime.so"
    if not use_app:
        adb.push(runner, REMOTE_RUNNER)
        if library.is_file():  # an NDK-built runner loads the AAR's libonnxruntime.so from beside itself
            adb.push(library, REMOTE_ORT)
        adb.shell(f"chmod 755 {REMOTE_RUNNER}", "making the runner executable")
    charge = battery.parse_dumpsys_battery(adb.shell("dumpsys battery", "reading the battery state"))
    if charge.charging:
        log(f"WARNING: the phone is powered by {'/'.join(charge.powered_by) or 'a charger'}: battery energy will "
            f"be marked meaningless. {battery.CHARGING_HINT}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "sampler.sh"
        script.write_text(SAMPLER_SCRIPT)
        adb.push(script, f"{REMOTE_ROOT}/bin/sampler.sh")
        # Every stream redirected: adb returns at once instead of waiting on the background loop's output.
        pid = adb.shell(f"nohup sh {REMOTE_ROOT}/bin/sampler.sh < /dev/null > {remote_samples} 2>/dev/null & echo $!",
                        "starting the battery sampler").strip()
        idle_start = device_time(adb)
        time.sleep(spec.idle_s)  # the phone idles with the model not yet loaded: the baseline
        idle_end = device_time(adb)
        log(f"running {spec.warmup} warm-up + {spec.runs} runs on {device.serial}"
            + (f" in the android_demo app ({android_app.ACTIVITY})" if use_app else ""))
        command = runner_argv(spec, remote_bundle, remote_output, library is not None and library.is_file())
        try:
            if use_app:
                android_app.run_benchmark(adb, spec, remote_bundle, remote_output, APP_TIMEOUT_S, log)
                proc = None
            else:
                proc = subprocess.run(adb.argv("shell", command), capture_output=True, text=True)
        finally:
            if pid.isdigit():
                adb.shell(f"kill {pid}", "stopping the battery sampler")
            else:
                log(f"WARNING: the battery sampler did not start (the phone printed {pid!r})")
        if proc is not None and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-1200:]
            raise UserError(f"the on-device runner failed (exit {proc.returncode}); its output ends:\n{tail}",
                            hint="Run it by hand to debug: adb -s " + device.serial + " shell " + command,
                            details={"stderr_tail": tail})
        adb.pull(remote_output, Path(tmp) / "metrics.json", "the metrics JSON")
        adb.pull(remote_samples, Path(tmp) / "battery.txt", "the battery samples")
        metrics = load_metrics(Path(tmp) / "metrics.json")
        samples_text = (Path(tmp) / "battery.txt").read_text()
    check_settings(metrics, spec)
    idle = (idle_start, idle_end) if idle_end > idle_start else None
    from edgeslm.profile.device_energy import energy_for

    profile = build_profile(metrics, manifest, energy_for(metrics, spec, samples_text, charge, idle, log))
    profile["device"]["serial"] = device.serial
    return profile
