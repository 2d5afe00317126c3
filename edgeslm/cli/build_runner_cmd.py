"""`edgeslm build-runner`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeslm.native.build import ANDROID_ABIS, TARGETS


@click.command("build-runner")
@click.option("--ndk", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Android NDK root (holds build/cmake/android.toolchain.cmake); implies --target android.")
@click.option("--abi", type=click.Choice(ANDROID_ABIS), default="arm64-v8a", show_default=True,
              help="Android ABI to build for.")
@click.option("--target", type=click.Choice(TARGETS), default=None,
              help="host (this machine), linux-arm64 (cross, for Raspberry Pi 5 / Jetson boards), or android "
                   "(with --ndk). Default: android with --ndk, else host.")
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Build folder (default: ~/.cache/edgeslm/build/<target>, where `edgeslm profile` looks).")
@click.pass_context
def command(ctx, ndk, abi, target, output):
    """Build edgeslm-runner, the native C++ runner (runtime/) on ONNX Runtime's C API.

    ONNX Runtime comes from the package registries (the onnxruntime wheel's library, the AAR in the npm package
    com.github.asus4.onnxruntime for headers and Android libraries). Needs CMake and a C++17 compiler, and
    nlohmann-json (apt-get install nlohmann-json3-dev).

    \b
    Examples:
      edgeslm build-runner --ndk ~/Android/Sdk/ndk/27.2.12479018   # then: edgeslm profile out --target android
      edgeslm build-runner                                           # this host
      edgeslm build-runner --target linux-arm64                      # a Raspberry Pi 5 / Jetson (cross)
    """
    from edgeslm.native.build import build_runner

    target = target or ("android" if ndk else "host")
    built = build_runner(target, ndk=ndk, abi=abi, out=output, log=lambda m: click.echo(m, err=True))
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "runner": str(built.runner), "library": str(built.library)}))
    else:
        click.echo(f"edgeslm-runner: {built.runner}\nONNX Runtime:   {built.library} (keep it beside the runner)")
