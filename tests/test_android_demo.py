"""android_demo/: what can be checked without Google Maven (AGP, androidx, d8 are not reachable here): the Kotlin
sources compile against Android's API 23 android.jar, the JNI `external fun`s match the C++ bridge's symbols, the
Gradle Kotlin scripts parse, and the native build points at the one engine in runtime/."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import android_tools

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "android_demo" / "app"
KOTLIN = sorted((APP / "src/main/java/org/edgeslm/demo").glob("*.kt"))
BRIDGE = APP / "src/main/cpp/jni_bridge.cpp"
JNI_TYPES = {"Long": "jlong", "Int": "jint", "Boolean": "jboolean", "Float": "jfloat", "Double": "jdouble",
             "String": "jstring", "Unit": "void", "TokenListener": "jobject"}


def kotlin_externals() -> dict[str, tuple[list[str], str]]:
    """name -> (JNI parameter types, JNI return type) of every `external fun` in the Kotlin sources."""
    out = {}
    for path in KOTLIN:
        text = path.read_text()
        for m in re.finditer(r"external fun (\w+)\((.*?)\)\s*(?::\s*(\w+))?\s*$", text, re.S | re.M):
            params = [p.split(":")[1].strip() for p in m.group(2).split(",") if p.strip()]
            out[m.group(1)] = ([JNI_TYPES[p] for p in params], JNI_TYPES[m.group(3) or "Unit"])
    return out


def bridge_symbols() -> dict[str, tuple[list[str], str]]:
    out = {}
    text = BRIDGE.read_text()
    for m in re.finditer(r"JNIEXPORT (\w+) JNICALL Java_org_edgeslm_demo_NativeEngine_(\w+)\((.*?)\)", text, re.S):
        params = [p.strip().split()[0] for p in m.group(3).split(",")]
        assert params[:2] == ["JNIEnv", "jclass"], f"{m.group(2)}: a static native takes (JNIEnv *, jclass, ...)"
        out[m.group(2)] = (params[2:], m.group(1))
    return out


def test_jni_signatures_match_between_kotlin_and_cpp():
    kotlin, cpp = kotlin_externals(), bridge_symbols()
    assert set(kotlin) == set(cpp) and len(kotlin) == 5, (sorted(kotlin), sorted(cpp))
    for name in kotlin:
        assert kotlin[name] == cpp[name], name
    # the callback the bridge looks up by name and descriptor exists with that shape
    engine = (APP / "src/main/java/org/edgeslm/demo/NativeEngine.kt").read_text()
    assert "fun onToken(token: Int, text: String): Boolean" in engine
    assert '"onToken", "(ILjava/lang/String;)Z"' in BRIDGE.read_text()


def test_kotlin_sources_compile_against_android_api_23(tmp_path):
    kotlinc, jar = android_tools.kotlinc(), android_tools.android_jar()
    if kotlinc is None or jar is None:
        pytest.skip("kotlin-compiler (npm) or libandroid-23-java (Debian bullseye) could not be fetched")
    proc = subprocess.run([str(kotlinc), "-cp", str(jar), "-jvm-target", "17", "-d", str(tmp_path / "out"),
                           *map(str, KOTLIN)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    classes = tmp_path / "out" / "org" / "edgeslm" / "demo"
    assert {"ChatActivity.class", "BenchmarkActivity.class", "NativeEngine.class"} <= {p.name for p in classes.iterdir()}
    if shutil.which("javap"):
        natives = subprocess.run(["javap", "-p", "-cp", str(tmp_path / "out"), "org.edgeslm.demo.NativeEngine"],
                                 capture_output=True, text=True).stdout
        # @JvmStatic external in the companion: static natives on NativeEngine itself, as the C++ symbols assume
        assert natives.count("static final native") == 5, natives


def test_gradle_kotlin_scripts_parse(tmp_path):
    """kotlinc's parser is the one Gradle uses for .gradle.kts: without the Gradle API every DSL call is an
    unresolved reference, but a syntax error is reported as such."""
    kotlinc = android_tools.kotlinc()
    if kotlinc is None:
        pytest.skip("kotlin-compiler (npm) could not be fetched")
    scripts = [REPO / "android_demo" / n for n in ("settings.gradle.kts", "build.gradle.kts")] + [APP / "build.gradle.kts"]
    copies = []
    for i, path in enumerate(scripts):
        copies.append(tmp_path / f"s{i}.kts")
        shutil.copy(path, copies[-1])
    broken = tmp_path / "broken.kts"
    broken.write_text('plugins {\n    id("x"\n}\n')
    proc = subprocess.run([str(kotlinc), "-d", str(tmp_path / "o"), *map(str, copies), str(broken)],
                          capture_output=True, text=True)
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    syntax = [line for line in errors if "syntax error" in line]
    assert syntax and all(line.startswith(str(broken)) for line in syntax), syntax  # the probe is caught, only it
    assert any("unresolved reference 'externalNativeBuild'" in line for line in errors)  # app script was parsed


def test_native_build_and_manifest_point_at_the_real_pieces():
    cmake = (APP / "src/main/cpp/CMakeLists.txt").read_text()
    sub = re.search(r"add_subdirectory\(\$\{CMAKE_CURRENT_SOURCE_DIR\}/([^ )]+)", cmake).group(1)
    assert ((APP / "src/main/cpp" / sub).resolve() / "CMakeLists.txt") == REPO / "runtime" / "CMakeLists.txt"
    gradle = (APP / "build.gradle.kts").read_text()
    assert 'path = file("src/main/cpp/CMakeLists.txt")' in gradle
    assert "com.microsoft.onnxruntime:onnxruntime-android:" in gradle and not re.search(r"\(\"androidx", gradle)
    ns = "{http://schemas.android.com/apk/res/android}"
    activities = {a.get(f"{ns}name") for a in ET.parse(APP / "src/main/AndroidManifest.xml").iter("activity")}
    assert activities == {".ChatActivity", ".BenchmarkActivity"}
    for name in activities:
        assert (APP / f"src/main/java/org/edgeslm/demo/{name[1:]}.kt").is_file()
    from edgeslm.profile import android_app
    assert android_app.ACTIVITY == "org.edgeslm.demo/.BenchmarkActivity"
    bench = (APP / "src/main/java/org/edgeslm/demo/BenchmarkActivity.kt").read_text()
    for extra in ("bundle", "output", "prompt_len", "gen_len", "runs", "warmup", "threads"):
        assert f'"{extra}"' in bench, extra  # every extra android_app.start_argv sends is read
