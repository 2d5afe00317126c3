"""`edgeslm verify BUNDLE --arm64`: the bundle's logits from the arm64 build of the native runner (emulated) against
the x86_64 build, position by position.

The x86 runner answers each prompt greedily; the arm64 runner is fed the same tokens (teacher forcing) so both score
the same positions even where a near-tie would flip one argmax. Reported: max |logit difference|, SQNR of the arm64
logits against the x86 ones, and top-1 agreement. Both builds run the same ONNX Runtime version; what differs is
the kernels (AVX2/AVX-512 here, NEON + dot product there) and their accumulation order.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeslm.errors import InternalError, UserError
from edgeslm.native import emulate
from edgeslm.native.build import build_runner
from edgeslm.verify.metrics import sqnr_db
from edgeslm.verify.prompts import VERIFY_PROMPTS

DEFAULT_PROMPTS = 2
DEFAULT_TOKENS = 12  # ~0.1 GFLOP/s emulated: a 135M model decodes a token in a few seconds
# Same ONNX Runtime version, different CPU kernels (arm64 NEON/dot-product MatMulNBits vs x86 AVX): close, not
# bit-identical. Measured: the default bundle (SmolLM2-135M int4) 28.4 dB, top-1 1.000, max |dlogit| 1.02 (1 prompt,
# 6 positions); the tiny test llama int4 39.2 dB, 1.000, 0.065. A wrong layout or a broken kernel gives < 10 dB.
TOLERANCE = {"min_top1": 0.9, "min_sqnr_db": 20.0}


@dataclass
class Arm64Check:
    prompts: int
    positions: int
    top1: float
    max_abs_logit: float
    sqnr_db: float
    passed: bool
    tolerance: dict
    cpu: str = emulate.CPU

    def to_dict(self) -> dict:
        return asdict(self)


def _dump(argv: list[str], bundle: Path, prompt: str, tokens: int, threads: int, out: Path,
          forced: list[int] | None, what: str) -> tuple[dict, np.ndarray]:
    cmd = [*argv, "--bundle", str(bundle), "--prompt", prompt, "--max-new-tokens", str(tokens),
           "--dump-logits", str(out), "--threads", str(threads)]
    if forced is not None:
        cmd += ["--force-tokens", ",".join(map(str, forced)), "--no-verify"]  # the x86 run checked the files
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"the {what} runner failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}",
                        hint="Run the command by hand to debug: " + " ".join(cmd))
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    logits = np.fromfile(out, dtype=np.float32).reshape(-1, info["vocab"])
    return info, logits


def check_arm64(bundle: Path, prompts: int = DEFAULT_PROMPTS, tokens: int = DEFAULT_TOKENS, threads: int = 2,
                log=print) -> Arm64Check:
    if not (Path(bundle) / "manifest.json").is_file():
        raise UserError(f"no bundle at {bundle}", hint="Pass the folder written by `edgeslm export -o`.")
    host = build_runner("host", log=log)
    arm = build_runner("linux-arm64", log=log)
    qemu = emulate.qemu_prefix()
    tops, errs, refs, max_abs = [], 0.0, [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, prompt in enumerate(VERIFY_PROMPTS[:prompts]):
            ref_info, ref = _dump([str(host.runner)], bundle, prompt, tokens, threads, Path(tmp) / f"x{i}.bin", None,
                                  "x86_64")
            log(f"arm64 (emulated {emulate.CPU}): prompt {i + 1}/{prompts}, {len(ref_info['tokens'])} positions")
            _, got = _dump([*qemu, str(arm.runner)], bundle, prompt, tokens, threads, Path(tmp) / f"a{i}.bin",
                           ref_info["tokens"], "arm64 (emulated)")
            if got.shape != ref.shape:
                raise InternalError(f"arm64 gave {got.shape} logits, x86 {ref.shape}",
                                    hint="The two builds disagree on the vocabulary; rebuild both runners.")
            tops.extend(np.argmax(got, axis=1) == np.argmax(ref, axis=1))
            diff = got.astype(np.float64) - ref
            errs += float(np.sum(diff ** 2))
            refs.append(ref)
            max_abs = max(max_abs, float(np.max(np.abs(diff))))
    top1 = float(np.mean(tops))
    sqnr = sqnr_db(np.concatenate(refs), errs)
    passed = bool(top1 >= TOLERANCE["min_top1"] and sqnr >= TOLERANCE["min_sqnr_db"])
    return Arm64Check(prompts, len(tops), top1, max_abs, float(sqnr), passed, dict(TOLERANCE))
