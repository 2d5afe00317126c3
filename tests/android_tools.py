"""The two tools the android_demo checks need, from package registries, cached under the edgeslm cache:
the Kotlin compiler (npm `kotlin-compiler`, the full JetBrains distribution) and Android's API 23 android.jar
(Debian bullseye's libandroid-23-java, fetched with a throwaway apt source list: nothing is installed)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from edgeslm.native.ort_dist import cache_root

KOTLIN_VERSION = "2.4.20"
ANDROID_DEB = "libandroid-23-java"
ANDROID_JAR_IN_DEB = "usr/lib/android-sdk/platforms/android-23/android.jar"


def kotlinc() -> Path | None:
    root = cache_root() / f"kotlin-{KOTLIN_VERSION}"
    exe = root / "package" / "bin" / "kotlinc-jvm"
    if exe.is_file():
        return exe
    if shutil.which("npm") is None or shutil.which("java") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["npm", "pack", "--silent", f"kotlin-compiler@{KOTLIN_VERSION}"], cwd=tmp,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return None
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
            tar.extractall(root, filter="data")
    exe.chmod(0o755)
    return exe if exe.is_file() else None


def android_jar() -> Path | None:
    root = cache_root() / "android-23"
    jar = root / "android.jar"
    if jar.is_file():
        return jar
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "sources.list").write_text("deb http://deb.debian.org/debian bullseye main\n")
        for sub in ("lists/partial", "cache/archives/partial"):
            (t / sub).mkdir(parents=True)
        opts = [f"-oDir::Etc::SourceList={t / 'sources.list'}", "-oDir::Etc::SourceParts=/dev/null",
                f"-oDir::State::Lists={t / 'lists'}", f"-oDir::Cache={t / 'cache'}", "-oDir::State::status=/dev/null",
                "-qq"]
        for argv in (["apt-get", *opts, "update"], ["apt-get", *opts, "download", ANDROID_DEB]):
            if subprocess.run(argv, cwd=tmp, capture_output=True).returncode != 0:
                return None
        deb = next(t.glob(f"{ANDROID_DEB}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(t / "x")], check=True)
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(t / "x" / ANDROID_JAR_IN_DEB, jar)
    return jar
