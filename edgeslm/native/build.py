"""Build edgeslm-runner (and the engine library) from runtime/ with CMake, for one of three targets:

  host         this machine (x86_64 here), against the onnxruntime wheel's library
  linux-arm64  cross-compiled with Debian's g++-aarch64-linux-gnu, against the aarch64 wheel's library
  android      with the user's NDK ($NDK/build/cmake/android.toolchain.cmake), against the AAR's jni/<abi> library

The build folder (outside the source tree, under the edgeslm cache) holds the runner next to libonnxruntime, the
layout the runner's $ORIGIN rpath expects and the one `adb push` copies to the phone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgeslm.errors import UserError
from edgeslm.native import ort_dist

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
TARGETS = ("host", "linux-arm64", "android")
ANDROID_ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64", "x86")
ANDROID_PLATFORM = "android-24"


@dataclass(frozen=True)
class Built:
    runner: Path
    library: Path  # the libonnxruntime the runner loads (same folder)
    folder: Path


def _check_tool(name: str, hint: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise UserError(f"`{name}` is not installed: building the native runner needs it", hint=hint)
    return exe


def _cmake(argv: list[str], what: str, log) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-3000:]
        raise UserError(f"{what} failed (exit {proc.returncode}):\n{tail}",
                        hint="Check the compiler and the toolchain named above; rerun with --debug for more.")


def build_folder(target: str, abi: str = "arm64-v8a") -> Path:
    """Where `build_runner` builds by default: one folder per target and per source tree (CMake binds a build
    folder to the runtime/ it was configured from, so two checkouts, or a moved one, must not share it)."""
    name = f"{target}-{abi}" if target == "android" else target
    tree = hashlib.sha256(str(RUNTIME_DIR.resolve()).encode()).hexdigest()[:12]
    return ort_dist.cache_root() / "build" / f"{name}-{tree}"


def build_runner(target: str = "host", ndk: Path | None = None, abi: str = "arm64-v8a", out: Path | None = None,
                 jobs: int | None = None, log=print) -> Built:
    if not RUNTIME_DIR.is_dir():
        raise UserError(f"the native sources are not at {RUNTIME_DIR}",
                        hint="build-runner works from a source checkout of edgeslm (git clone), where runtime/ is.")
    if target not in TARGETS:
        raise UserError(f"unknown runner target {target!r}", hint=f"Pick one of: {', '.join(TARGETS)}.")
    _check_tool("cmake", "Install CMake: `apt-get install cmake` (or `pip install cmake`).")
    headers = ort_dist.headers()
    configure = ["-DCMAKE_BUILD_TYPE=Release", f"-DORT_INCLUDE_DIR={headers}"]
    if target == "host":
        _check_tool("c++", "Install a C++ compiler: `apt-get install g++`.")
        library, soname = ort_dist.host_library(), "libonnxruntime.so.1"
    elif target == "linux-arm64":
        cxx = _check_tool("aarch64-linux-gnu-g++", "Install the cross compiler: `apt-get install g++-aarch64-linux-gnu`.")
        library, soname = ort_dist.arm64_linux_library(), "libonnxruntime.so.1"
        configure += ["-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64", f"-DCMAKE_CXX_COMPILER={cxx}",
                      "-DNLOHMANN_JSON_INCLUDE_DIR=" + _nlohmann_dir()]
    else:
        if ndk is None:
            raise UserError("an Android build needs the NDK: pass --ndk DIR",
                            hint="Install it with Android Studio (SDK Manager > SDK Tools > NDK) or "
                                 "`sdkmanager 'ndk;27.2.12479018'`; DIR is the folder holding build/cmake/.")
        toolchain = Path(ndk) / "build" / "cmake" / "android.toolchain.cmake"
        if not toolchain.is_file():
            raise UserError(f"{ndk} is not an Android NDK (no build/cmake/android.toolchain.cmake)",
                            hint="Pass the NDK's root folder, e.g. ~/Android/Sdk/ndk/27.2.12479018.")
        if abi not in ANDROID_ABIS:
            raise UserError(f"unknown Android ABI {abi!r}", hint=f"Pick one of: {', '.join(ANDROID_ABIS)}.")
        library, soname = ort_dist.android_library(abi), "libonnxruntime.so"
        configure += [f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", f"-DANDROID_ABI={abi}",
                      f"-DANDROID_PLATFORM={ANDROID_PLATFORM}", "-DNLOHMANN_JSON_INCLUDE_DIR=" + _nlohmann_dir()]
    api, (_, minor) = ort_dist.api_version(headers), ort_dist.library_version(library)
    if minor and api > minor:  # the C API is backward compatible: headers no newer than the library
        raise UserError(f"ONNX Runtime headers (API {api}) are newer than the library {library.name} (1.{minor})",
                        hint=f"Use an onnxruntime wheel >= 1.{api} (pip install -U onnxruntime).")
    folder = Path(out) if out else build_folder(target, abi)
    folder.mkdir(parents=True, exist_ok=True)
    local_lib = folder / soname
    if not local_lib.is_file() or local_lib.stat().st_size != library.stat().st_size:
        shutil.copy2(library, local_lib)
    runner = folder / "edgeslm-runner"
    if not (folder / "CMakeCache.txt").is_file():
        log(f"configuring edgeslm-runner in {folder} (ONNX Runtime headers: API "
            f"{ort_dist.api_version(headers)}, library {library.name})")
        _cmake(["cmake", "-S", str(RUNTIME_DIR), "-B", str(folder), *configure, f"-DORT_LIBRARY={local_lib}"],
               "configuring the native runner (cmake)", log)
    # Incremental: a no-op when runtime/ has not changed since the last build in this folder.
    _cmake(["cmake", "--build", str(folder), "-j", str(jobs or os.cpu_count() or 2)], "building the native runner", log)
    return Built(runner, local_lib, folder)


def _nlohmann_dir() -> str:
    """A private copy of the build machine's header-only nlohmann/json for the cross builds: it is plain C++, but
    adding /usr/include itself to a cross compiler's path would shadow the target's own C headers."""
    for root in ("/usr/include", "/usr/local/include", "/opt/homebrew/include"):
        if (Path(root) / "nlohmann" / "json.hpp").is_file():
            copy = ort_dist.cache_root() / "nlohmann-include"
            if not (copy / "nlohmann" / "json.hpp").is_file():
                shutil.copytree(Path(root) / "nlohmann", copy / "nlohmann", dirs_exist_ok=True)
            return str(copy)
    raise UserError("nlohmann/json.hpp is not installed (needed to build the native runner)",
                    hint="`apt-get install nlohmann-json3-dev` (Debian/Ubuntu) or `brew install nlohmann-json`.")
