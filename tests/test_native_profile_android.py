"""`edgeslm profile --target android` without --runner, through a fake `adb` whose "phone" really runs the host build
of edgeslm-runner: once as the runner `edgeslm build-runner --ndk` leaves in the cache, once as the android_demo
app's benchmark activity (which calls the same native edgeslm_benchmark), and the error when neither exists."""

from __future__ import annotations

import json
import shutil
import stat
import sys

import pytest

from edgeslm.profile import android_app
from native_helpers import host_runner_or_skip
from test_cli_bad_input import USER, assert_error, edgeslm
from test_profile_device import phone as base_phone  # noqa: F401 (a fixture)

FAKE_ADB = r'''"""A fake adb whose phone runs real binaries: the pushed runner, or (as the demo app) $FAKE_APP_RUNNER.
Devices, push, pull, the clock and dumpsys are test_profile_device's fake adb ($FAKE_ADB_BASE), run for the rest."""
import json, os, shlex, subprocess, sys, time
from pathlib import Path

state = Path(os.environ["FAKE_ADB_STATE"])
fs = state / "fs"
args = sys.argv[1:]
if args[:1] == ["-s"]:
    args = args[2:]
words = shlex.split(args[1]) if args[:1] == ["shell"] else [""]


def local(remote):
    return fs / remote.lstrip("/")


def run_runner(exe, argv):
    # The host-built runner needs the host's libonnxruntime.so.1: the phone's "system" library here.
    env = dict(os.environ, LD_LIBRARY_PATH=os.environ["FAKE_PHONE_LIBS"])
    opts = [str(local(a)) if a.startswith("/") else a for a in argv]
    return subprocess.run([str(exe), *opts], env=env, capture_output=True, text=True)


def log():
    with (state / "argv.jsonl").open("a") as fh:
        fh.write(json.dumps(sys.argv[1:]) + "\n")


if words[0].startswith("LD_LIBRARY_PATH=") or words[0].endswith("edgeslm-runner"):
    log()
    words = words[1:] if words[0].startswith("LD_LIBRARY_PATH=") else words
    proc = run_runner(local(words[0]), words[1:])
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    sys.exit(proc.returncode)
elif words[:2] == ["am", "start"]:
    log()
    extras = {words[i + 1]: words[i + 2] for i in range(len(words) - 2) if words[i] in ("--es", "--ei")}
    out = extras["output"]
    proc = run_runner(os.environ["FAKE_APP_RUNNER"], [
        "--bundle", extras["bundle"], "--prompt-len", extras["prompt_len"], "--gen-len", extras["gen_len"],
        "--runs", extras["runs"], "--warmup", extras["warmup"], "--threads", extras["threads"],
        "--output", out + ".part"])
    if proc.returncode == 0:
        os.replace(local(out + ".part"), local(out))
    else:
        local(out + ".error").write_text(proc.stderr)
    print("Starting: Intent { cmp=org.edgeslm.demo/.BenchmarkActivity }\nStatus: ok")
elif words[:3] == ["pm", "list", "packages"]:
    log()
    if (state / "app_installed").exists():
        print("package:org.edgeslm.demo")
elif words[0] in ("ls", "cat", "kill"):
    log()
    if words[0] == "ls":
        print(" ".join(w for w in words[1:] if w.startswith("/") and local(w).exists()))
    elif words[0] == "cat":
        print(local(words[1]).read_text())
    else:  # the battery sampler stops: its samples cover the session, 0.8 A at 3.9 V
        t, lines = time.time() - 120, []
        while t < time.time() + 1:
            lines.append(f"{t:.6f} -800000 3900000")
            t += 0.05
        local("/data/local/tmp/edgeslm/battery.txt").write_text("\n".join(lines) + "\n")
else:
    os.execv(sys.executable, [sys.executable, os.environ["FAKE_ADB_BASE"], *sys.argv[1:]])
'''


@pytest.fixture()
def phone(base_phone, tmp_path, monkeypatch):
    """test_profile_device's fake phone, with this file's adb in front of its adb (kept as adb-base)."""
    built = host_runner_or_skip()
    adb = tmp_path / "bin" / "adb"
    adb.rename(tmp_path / "bin" / "adb-base")
    adb.write_text(f"#!{sys.executable}\n" + FAKE_ADB)
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_ADB_BASE", str(tmp_path / "bin" / "adb-base"))
    monkeypatch.setenv("FAKE_PHONE_LIBS", str(built.folder))
    monkeypatch.setenv("FAKE_APP_RUNNER", str(built.runner))
    monkeypatch.setenv("EDGESLM_CACHE", str(tmp_path / "cache"))  # no NDK-built runner unless a test puts one
    return base_phone, built


def calls(state):
    return [json.loads(line) for line in (state / "argv.jsonl").read_text().splitlines()]


def profile(bundle, tmp_path):
    return edgeslm("--json", "profile", str(bundle), "--target", "android", "--runs", "2", "--warmup", "1",
                   "--prompt-len", "16", "--gen-len", "6", "--threads", "1", "--idle-s", "0.2",
                   "-o", str(tmp_path / "prof"))


@pytest.fixture(scope="module")
def tiny_bundle(exported):
    return exported("llama", "int4").bundle


def test_profile_uses_the_runner_build_runner_left(phone, tiny_bundle, tmp_path):
    state, built = phone
    from edgeslm.native.build import build_folder

    cached = build_folder("android", "arm64-v8a")  # under the test's cache root (tmp_path / "cache")
    assert tmp_path in cached.parents
    cached.mkdir(parents=True)
    shutil.copy(built.runner, cached / "edgeslm-runner")
    shutil.copy(built.library, cached / "libonnxruntime.so")
    result = profile(tiny_bundle, tmp_path)
    assert result.exit_code == 0, result.output
    prof = json.loads(result.output[result.output.index("{"):])["profile"]
    assert prof["decode_tok_per_s"]["mean"] > 0 and prof["time_to_first_token_s"]["mean"] > 0
    assert "linux" in prof["device"]["cpu"]  # the metrics came from the real (host) runner, not a canned file
    argv = calls(state)
    assert any(a[-1] == "/data/local/tmp/edgeslm/bin/libonnxruntime.so" for a in argv)
    runs = [a for a in argv if len(a) > 3 and a[2] == "shell" and "edgeslm-runner --bundle" in a[3]]
    assert len(runs) == 1 and runs[0][3].startswith("LD_LIBRARY_PATH=/data/local/tmp/edgeslm/bin ")
    assert not any("pm list packages" in " ".join(a) for a in argv)


def test_profile_drives_the_demo_apps_benchmark_activity(phone, tiny_bundle, tmp_path):
    state, _ = phone
    (state / "app_installed").write_text("")
    result = profile(tiny_bundle, tmp_path)
    assert result.exit_code == 0, result.output
    prof = json.loads(result.output[result.output.index("{"):])["profile"]
    assert prof["decode_tok_per_s"]["mean"] > 0
    argv = calls(state)
    starts = [a[3] for a in argv if len(a) > 3 and a[2] == "shell" and a[3].startswith("am start")]
    assert len(starts) == 1 and f"-n {android_app.ACTIVITY}" in starts[0]
    assert "--ei gen_len 6" in starts[0] and "--ei threads 1" in starts[0]
    assert any(len(a) > 3 and a[2] == "push" and a[-1] == android_app.APP_ROOT + "/" for a in argv)
    assert any(len(a) > 3 and a[2] == "pull" and a[3] == f"{android_app.APP_ROOT}/bundle.metrics.json" for a in argv)
    assert not any("edgeslm-runner" in " ".join(a) for a in argv)


def test_the_apps_failure_is_shown(phone, tiny_bundle, tmp_path, monkeypatch):
    state, _ = phone
    (state / "app_installed").write_text("")
    broken = tmp_path / "broken-app"
    broken.write_text("#!/bin/sh\necho 'ONNX Runtime: bad_alloc while creating the session' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("FAKE_APP_RUNNER", str(broken))
    assert_error(profile(tiny_bundle, tmp_path), USER, "android_demo benchmark failed", "bad_alloc",
                 "adb logcat -s edgeslm")


def test_without_runner_or_app_the_error_names_both_commands(phone, tiny_bundle, tmp_path):
    assert_error(profile(tiny_bundle, tmp_path), USER, "android_demo app (org.edgeslm.demo) is not installed",
                 "edgeslm build-runner --ndk", "./gradlew installDebug")
