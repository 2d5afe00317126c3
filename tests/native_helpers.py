"""Shared by the native-runtime tests: the host build of edgeslm-runner (skipped when the build tools are absent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edgeslm.errors import UserError


def host_runner_or_skip():
    from edgeslm.native.build import build_runner

    for tool, package in (("cmake", "cmake"), ("c++", "g++"), ("npm", "npm")):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed (apt-get install {package}): the native runner cannot be built")
    if not Path("/usr/include/nlohmann/json.hpp").is_file():
        pytest.skip("nlohmann-json3-dev is not installed: the native runner cannot be built")
    try:
        return build_runner("host", log=lambda m: None)
    except UserError as err:
        if "npm pack" in err.message:
            pytest.skip(f"ONNX Runtime's headers could not be fetched: {err.message}")
        raise


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
