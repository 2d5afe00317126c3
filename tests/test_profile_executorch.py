"""`edgeslm profile` on ExecuTorch bundles: the worker runs the .pte through the pybindings, and ETDump +
the Inspector give the per-operator table (delegated to XNNPACK or not)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("executorch", reason="ExecuTorch (pip install executorch) is not installed")

from edgeslm.backends.executorch import etdump  # noqa: E402


def _has_executorch_backend() -> bool:
    from edgeslm.backends import BACKENDS

    return "executorch" in BACKENDS.names()


@pytest.fixture(scope="module")
def tiny_pte(tmp_path_factory) -> Path:
    """A tiny program with edgeslm's signature, forward(tokens (1, S), input_pos (1,)) -> (1, S, V): its linears
    go to XNNPACK, its cumsum stays on ExecuTorch's portable kernels."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(32, 16)
            self.up, self.head = torch.nn.Linear(16, 16), torch.nn.Linear(16, 32)

        def forward(self, tokens, input_pos):
            h = torch.relu(self.up(self.embed(tokens)))
            return torch.cumsum(self.head(h), dim=-1) + input_pos.to(torch.float32)

    torch.manual_seed(0)
    seq = torch.export.Dim("seq_len", min=1, max=64)
    example = (torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, dtype=torch.long))
    program = torch.export.export(Tiny().eval(), example, dynamic_shapes=({1: seq}, None))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    path = tmp_path_factory.mktemp("tiny-pte") / "model.pte"
    path.write_bytes(lowered.buffer)
    return path


def test_etdump_table_has_delegated_and_portable_ops(tiny_pte, tmp_path):
    io = {"inputs": ["tokens", "input_pos"], "method": "forward"}
    found = etdump.profile_operators(tiny_pte, io, np.arange(8), gen_len=4, threads=1, runs=2, workdir=tmp_path)
    assert found.forward_calls == 2 * (1 + 4)
    rows = {(r["op"], r["delegated"]): r for r in found.rows}
    assert ("cumsum.out", False) in rows and rows[("cumsum.out", False)]["calls"] == found.forward_calls
    gemms = [r for r in found.rows if r["delegated"] and r["op"].startswith("Fully Connected")]
    assert gemms and "#" not in gemms[0]["op"] and gemms[0]["calls"] >= found.forward_calls
    assert all(r["ms"] >= 0 and 0 <= r["share"] <= 1 for r in found.rows)
    assert abs(sum(r["share"] for r in found.rows) - 1) < 0.01  # a tiny program: every op fits the top 12
    # XNNPACK times its ops in whole microseconds: a 16x16 GEMM can read 0, the delegate call as a whole not.
    assert found.execute_ms > 0 and found.delegate_call_ms > 0 and found.portable_ms > 0 and found.delegated_ms >= 0
    # The table has the ONNX table's keys (onnx.profiling.operator_table), plus where the op ran.
    assert set(found.rows[0]) == {"op", "ms", "calls", "share", "delegated"}


def test_etdump_driver_refuses_an_unknown_signature(tiny_pte, tmp_path):
    from edgeslm.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="no ETDump driver"):
        etdump.profile_operators(tiny_pte, {"inputs": ["x"]}, np.arange(4), 1, 1, 1, tmp_path)


@pytest.fixture(scope="module")
def et_bundle(tiny_model_dir, tmp_path_factory) -> Path:
    """A real tiny edgeslm ExecuTorch bundle (llama, int4)."""
    if not _has_executorch_backend():
        pytest.skip("edgeslm's executorch backend is not registered in edgeslm/backends/__init__.py yet")
    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog

    out = tmp_path_factory.mktemp("bundle-et-llama-int4") / "bundle"
    cfg = ExportConfig(output=out, target="android", format="executorch", model=str(tiny_model_dir("llama")),
                       quant="int4", max_seq_len=128)
    return run_export(cfg, StageLog(quiet=True)).bundle


def test_worker_profiles_an_executorch_bundle(et_bundle, tmp_path):
    spec = {"bundle": str(et_bundle), "runs": 2, "warmup": 1, "prompt_len": 16, "gen_len": 8, "threads": 1,
            "op_profile_prefix": str(tmp_path / "ops")}
    # In its own process, as `edgeslm profile` runs it: peak RSS is then the bundle's, not this test run's.
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "edgeslm.profile.worker", str(tmp_path / "spec.json"),
                           str(tmp_path / "raw.json")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    raw = json.loads((tmp_path / "raw.json").read_text())
    assert raw["format"] == "executorch" and raw["prompt_len"] == 16 and len(raw["runs"]) == 2
    assert all(len(r["decode_latencies_s"]) == 8 and r["prefill_s"] > 0 for r in raw["runs"])
    assert 0 < raw["peak_rss_mb"] < 4000 and raw["load_s"] > 0
    ops = raw["operators"]
    assert ops and {"op", "ms", "calls", "share", "delegated"} <= set(ops[0])
    assert any(o["delegated"] for o in ops), ops  # the int4 linears run inside XNNPACK
    assert any("sdpa" in o["op"] or "update_cache" in o["op"] for o in ops if not o["delegated"]), ops
    about = raw["operators_about"]
    assert about["forward_calls"] == 2 * (1 + 8) and about["execute_ms"] > 0
    json.dumps(raw)  # the worker's output crosses a process boundary as JSON


def test_profile_cli_on_an_executorch_bundle(et_bundle, tmp_path):
    from edgeslm.profile import host
    from test_cli_bad_input import edgeslm

    if "executorch" not in host.host_formats():
        pytest.skip("the executorch backend declares no host runtime")
    out = tmp_path / "prof"
    result = edgeslm("--json", "profile", str(et_bundle), "--runs", "2", "--warmup", "0", "--prompt-len", "16",
                     "--gen-len", "8", "--threads", "1", "--ops", "-o", str(out))
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)["profile"]
    assert profile["bundle"]["format"] == "executorch" and profile["settings"]["threads"] == 1
    assert len(profile["decode_latency_ms_per_token"]) == 8
    assert profile["decode_tok_per_s"]["mean"] > 0 and profile["time_to_first_token_s"]["mean"] > 0
    assert any(o["delegated"] for o in profile["operators"]) and any(not o["delegated"] for o in profile["operators"])
    assert json.loads((out / "profile.json").read_text()) == profile
    assert (out / "profile.md").read_text().count("|") > 10 and (out / "profile.html").exists()
