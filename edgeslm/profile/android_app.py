"""The android_demo app's benchmark mode, driven over adb: what `edgeslm profile --target android` uses when the app
is installed and no runner executable is at hand.

  adb push BUNDLE  /sdcard/Android/data/org.edgeslm.demo/files/   (the app's external files dir: adb can write it,
                                                                   the app reads it without a permission)
  adb shell am start -W -n org.edgeslm.demo/.BenchmarkActivity --es bundle DIR --ei prompt_len N --ei gen_len N
                     --ei runs N --ei warmup N --ei threads N --es output FILE
  ... poll until FILE (written whole, then renamed into place) or FILE.error appears; adb pull FILE

The activity (android_demo/app/src/main/java/org/edgeslm/demo/BenchmarkActivity.kt) calls the same native
edgeslm_benchmark as edgeslm-runner, so the JSON is the runner's metrics JSON.
"""

from __future__ import annotations

import shlex
import time

from edgeslm.errors import UserError

PACKAGE = "org.edgeslm.demo"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
APP_ROOT = f"/sdcard/Android/data/{PACKAGE}/files"
POLL_S = 1.0


def installed(adb) -> bool:
    listing = adb.shell(f"pm list packages {PACKAGE}", "listing the installed packages")
    return any(line.strip() == f"package:{PACKAGE}" for line in listing.splitlines())


def start_argv(spec, remote_bundle: str, remote_output: str) -> str:
    extras = [("--es", "bundle", remote_bundle), ("--ei", "prompt_len", spec.prompt_len),
              ("--ei", "gen_len", spec.gen_len), ("--ei", "runs", spec.runs), ("--ei", "warmup", spec.warmup),
              ("--ei", "threads", spec.threads), ("--es", "output", remote_output)]
    return f"am start -W -n {ACTIVITY} " + " ".join(f"{kind} {key} {shlex.quote(str(v))}" for kind, key, v in extras)


def run_benchmark(adb, spec, remote_bundle: str, remote_output: str, timeout_s: float, log=print) -> None:
    """Start the activity and wait for its metrics file; its .error file becomes a UserError."""
    adb.shell(f"rm -f {remote_output} {remote_output}.error", "clearing the previous result")
    out = adb.shell(start_argv(spec, remote_bundle, remote_output), "starting the benchmark activity")
    if "Error" in out:
        raise UserError(f"`am start` refused the benchmark activity: {out.strip()[-600:]}",
                        hint=f"Is android_demo installed? `adb shell pm list packages {PACKAGE}`; reinstall it: "
                             "cd android_demo && ./gradlew installDebug")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listing = adb.shell(f"ls {remote_output} {remote_output}.error 2>/dev/null; true", "waiting for the result")
        names = set(listing.split())
        if f"{remote_output}.error" in names:
            message = adb.shell(f"cat {remote_output}.error", "reading the app's error").strip()
            raise UserError(f"the android_demo benchmark failed: {message[-1200:]}",
                            hint="See the app's log: adb logcat -s edgeslm")
        if remote_output in names:
            return
        time.sleep(POLL_S)
    raise UserError(f"the android_demo benchmark wrote no {remote_output} within {timeout_s:.0f} s",
                    hint="Keep the phone unlocked with the app in front; see `adb logcat -s edgeslm`.")
