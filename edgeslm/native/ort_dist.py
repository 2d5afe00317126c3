"""ONNX Runtime's C headers and shared libraries, from package registries only, cached under the edgeslm cache.

  headers      the AAR inside the npm package com.github.asus4.onnxruntime (`npm pack`, ~150 MB once; only the
               headers and the Android arm64 libraries are kept, the tarball is deleted)
  host x86_64  onnxruntime/capi/libonnxruntime.so.1.* of the installed onnxruntime wheel
  linux-arm64  the same file from the manylinux_2_28_aarch64 wheel (`pip download --platform ...`)
  android      jni/<abi>/libonnxruntime.so of the same AAR

The C API is versioned (ORT_API_VERSION) and backward compatible: headers no newer than the library are fine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from edgeslm.errors import UserError

NPM_PACKAGE = "com.github.asus4.onnxruntime"
NPM_VERSION = "0.4.9"  # its AAR carries ONNX Runtime 1.29 (ORT_API_VERSION 29)
# The tarball's own digest, as the npm registry published it (`npm view ...@0.4.9 dist.integrity`): the libraries
# go into phone apps, so a tarball that differs from the one this version was built and tested against is refused.
NPM_INTEGRITY = "sha512-BkzxduSZ9IkeDP6Q8lz2TFU2ie7hSSvS7ZIfzMooExoq0CNzJnuuGaUJ7IsojBgqO4ouD1jXah8OYyJbCN29Fg=="
AAR_IN_TARBALL = "package/Plugins/Android/onnxruntime.aar"


def cache_root() -> Path:
    return Path(os.environ.get("EDGESLM_CACHE") or Path.home() / ".cache" / "edgeslm")


def _run(argv: list[str], what: str, hint: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{what}: `{argv[0]}` is not installed", hint=hint) from None
    if proc.returncode != 0:
        raise UserError(f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}",
                        hint=hint)
    return proc.stdout


def aar_dir() -> Path:
    """The unpacked AAR (headers/, jni/<abi>/); fetched with npm on first use."""
    root = cache_root() / f"ort-aar-{NPM_VERSION}"
    if (root / "headers" / "onnxruntime_cxx_api.h").is_file():
        return root
    with tempfile.TemporaryDirectory(dir=cache_root().mkdir(parents=True, exist_ok=True) or cache_root()) as tmp:
        _run(["npm", "pack", "--silent", f"{NPM_PACKAGE}@{NPM_VERSION}"], "fetching ONNX Runtime's headers (npm pack)",
             "Install Node.js/npm (`apt-get install npm`); the package is on the public npm registry.", Path(tmp))
        tarball = next(Path(tmp).glob("*.tgz"))
        check_integrity(tarball, NPM_INTEGRITY)
        with tarfile.open(tarball) as tar:
            tar.extract(tar.getmember(AAR_IN_TARBALL), tmp, filter="data")
        staging = Path(tmp) / "aar"
        with zipfile.ZipFile(Path(tmp) / AAR_IN_TARBALL) as aar:
            aar.extractall(staging, [n for n in aar.namelist() if n.startswith(("headers/", "jni/"))])
        shutil.rmtree(root, ignore_errors=True)
        shutil.move(str(staging), root)
    return root


def check_integrity(path: Path, integrity: str) -> None:
    """npm's Subresource-Integrity form ("sha512-<base64 digest>") of the file, or a UserError naming both."""
    import base64
    import hashlib

    algorithm = integrity.partition("-")[0]
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    got = f"{algorithm}-{base64.b64encode(digest.digest()).decode()}"
    if got != integrity:
        raise UserError(f"{path.name} is not the package edgeslm pins: {got[:30]}... != {integrity[:30]}...",
                        hint="The registry served other bytes for this version; nothing was unpacked. Report it.")


def headers() -> Path:
    return aar_dir() / "headers"


def api_version(header_dir: Path) -> int:
    match = re.search(r"#define ORT_API_VERSION (\d+)", (header_dir / "onnxruntime_c_api.h").read_text())
    return int(match.group(1))


def host_library() -> Path:
    """The x86_64 (or whatever this host is) libonnxruntime.so.1.* of the installed onnxruntime wheel."""
    import onnxruntime

    found = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.1*"))
    if not found:
        raise UserError("the installed onnxruntime wheel has no capi/libonnxruntime.so.1.*",
                        hint="Reinstall it: pip install --force-reinstall onnxruntime")
    return found[-1]


def library_version(lib: Path) -> tuple[int, int]:
    match = re.search(r"\.so\.1\.(\d+)", lib.name)
    if match:
        return 1, int(match.group(1))
    text = lib.read_bytes()
    found = re.findall(rb"\x001\.(\d{2})\.\d+\x00", text)
    return (1, int(found[0])) if found else (1, 0)


def arm64_linux_library() -> Path:
    """libonnxruntime.so.1.* from the manylinux_2_28_aarch64 onnxruntime wheel of the installed version."""
    import onnxruntime

    root = cache_root() / f"ort-linux-aarch64-{onnxruntime.__version__}"
    found = sorted(root.glob("libonnxruntime.so.1*"))
    if found:
        return found[-1]
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
              "--platform", "manylinux_2_28_aarch64", "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
              "-d", tmp, f"onnxruntime=={onnxruntime.__version__}"],
             "downloading the aarch64 onnxruntime wheel", "Check that PyPI is reachable (pip download ...).")
        wheel = next(Path(tmp).glob("onnxruntime-*.whl"))
        root.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if re.search(r"capi/libonnxruntime\.so\.1", name):
                    (root / Path(name).name).write_bytes(zf.read(name))
    return sorted(root.glob("libonnxruntime.so.1*"))[-1]


def android_library(abi: str) -> Path:
    lib = aar_dir() / "jni" / abi / "libonnxruntime.so"
    if not lib.is_file():
        raise UserError(f"the ONNX Runtime AAR has no library for ABI {abi!r}",
                        hint="Pick one of: arm64-v8a, armeabi-v7a, x86_64, x86.")
    return lib
