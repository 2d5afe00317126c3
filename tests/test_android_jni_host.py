"""android_demo's JNI bridge (app/src/main/cpp/jni_bridge.cpp) and its Kotlin face (NativeEngine.kt), run for real
on this machine's JVM: the bridge is compiled for the host against the JDK's jni.h (the same JNI the Android runtime
implements; <android/log.h> replaced by tests/jni_host's stand-in), linked with the host build of the engine, and the
app's unchanged NativeEngine class generates through it. What the APK would run, minus Android itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import android_tools
from native_helpers import host_runner_or_skip

ROOT = Path(__file__).resolve().parents[1]
BRIDGE = ROOT / "android_demo/app/src/main/cpp/jni_bridge.cpp"
ENGINE_KT = ROOT / "android_demo/app/src/main/java/org/edgeslm/demo/NativeEngine.kt"
HOST = Path(__file__).resolve().parent / "jni_host"


def jdk_include() -> Path | None:
    for header in sorted(Path("/usr/lib/jvm").glob("*/include/jni.h")):
        if (header.parent / "linux" / "jni_md.h").is_file():
            return header.parent
    return None


@pytest.fixture(scope="module")
def jvm_engine(tmp_path_factory):
    """(java command prefix) running HostMain with libedgeslm_jni.so and libonnxruntime.so on java.library.path."""
    include, kotlinc = jdk_include(), android_tools.kotlinc()
    if include is None or kotlinc is None or shutil.which("java") is None:
        pytest.skip("a JDK (jni.h: apt-get install default-jdk-headless) or kotlinc (npm) is missing")
    built = host_runner_or_skip()
    out = tmp_path_factory.mktemp("jni-host")
    (out / "libonnxruntime.so").symlink_to(built.library)
    proc = subprocess.run(["c++", "-std=c++17", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra",
                           f"-I{ROOT / 'runtime/include'}", f"-I{include}", f"-I{include / 'linux'}", f"-I{HOST}",
                           str(BRIDGE), str(built.folder / "libedgeslm_engine.a"), str(built.library),
                           f"-Wl,-rpath,{built.folder}", "-o", str(out / "libedgeslm_jni.so")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jar = out / "host.jar"
    proc = subprocess.run([str(kotlinc), "-jvm-target", "17", "-include-runtime", "-d", str(jar), str(ENGINE_KT),
                           str(HOST / "HostMain.kt")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return ["java", f"-Djava.library.path={out}", "-jar", str(jar)]


@pytest.fixture(scope="module")
def tiny_bundle(exported):
    return exported("llama", "int4").bundle


def test_the_app_engine_generates_through_jni_as_edgeslm_run_does(jvm_engine, tiny_bundle, tmp_path):
    """Greedy tokens and streamed text through Kotlin -> JNI -> engine equal the Python loop's, for a prompt with
    an emoji and accents (Java strings cross JNI as UTF-16; the bridge must hand the engine standard UTF-8)."""
    from edgeslm.bundle.reader import open_bundle
    from edgeslm.generate import generate

    prompt = "fever 🤒, café-au-lait spots and cough: what are the causes?"
    ref = generate(open_bundle(tiny_bundle, 1), prompt, 24, use_chat_template=False)
    (tmp_path / "prompt.txt").write_text(prompt, encoding="utf-8")  # not argv: that depends on the JVM's locale
    proc = subprocess.run([*jvm_engine, str(tiny_bundle), str(tmp_path / "prompt.txt"), "24", "false"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ids_line, text_line = proc.stdout.splitlines()[:2]
    assert [int(t) for t in ids_line.split(",")] == ref.tokens and len(ref.tokens) > 3
    assert json.loads(text_line) == ref.text


def test_a_bad_bundle_raises_in_kotlin_with_the_engine_message(jvm_engine, tmp_path):
    (tmp_path / "prompt.txt").write_text("hi")
    proc = subprocess.run([*jvm_engine, str(tmp_path), str(tmp_path / "prompt.txt"), "4", "false"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "IllegalStateException" in proc.stderr and "manifest.json" in proc.stderr
