"""ONNX bundles load in onnxruntime-genai as exported: genai_config.json matches the graph, and GenAI's greedy
tokens equal `edgeslm run`'s on every architecture (tiny int4 models shared with the export matrix)."""

import json

import onnx
import pytest
from conftest import ARCH_NAMES
from genai_run import edgeslm_greedy, genai_greedy, with_share_buffer

from edgeslm.backends.onnx.genai_config import GENAI_CONFIG, shares_buffer
from edgeslm.model.spec import DecoderSpec

pytest.importorskip("onnxruntime_genai")
PROMPT = "what are the common symptoms"


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_genai_generates_the_same_greedy_tokens(exported, arch):
    bundle = exported(arch, "int4").bundle
    ids, ours = edgeslm_greedy(bundle, PROMPT, 16)
    assert len(ours) >= 2
    assert genai_greedy(bundle, ids, 16) == ours


def test_genai_config_names_the_graph(exported):
    result = exported("qwen2", "int4")
    config = json.loads((result.bundle / GENAI_CONFIG).read_text())
    graph = onnx.load(result.bundle / config["model"]["decoder"]["filename"], load_external_data=False).graph
    inputs, outputs = [i.name for i in graph.input], [o.name for o in graph.output]
    dec = config["model"]["decoder"]
    layers = dec["num_hidden_layers"]
    assert inputs == [dec["inputs"]["input_ids"], dec["inputs"]["attention_mask"]] + [
        dec["inputs"][f"past_{kv}_names"] % i for i in range(layers) for kv in ("key", "value")]
    assert outputs == [dec["outputs"]["logits"]] + [
        dec["outputs"][f"present_{kv}_names"] % i for i in range(layers) for kv in ("key", "value")]
    past = graph.input[2].type.tensor_type.shape.dim
    assert (past[1].dim_value, past[3].dim_value) == (dec["num_key_value_heads"], dec["head_size"])
    spec = result.manifest["arch"]["spec"]
    assert (dec["num_attention_heads"], dec["hidden_size"]) == (spec["heads"], spec["hidden"])
    gen = result.manifest["generation"]
    assert config["model"]["context_length"] == gen["max_positions"] == config["search"]["max_length"]
    assert config["model"]["eos_token_id"] == gen["eos_token_ids"][0] and config["model"]["type"] == "qwen2"
    assert any(f["name"] == GENAI_CONFIG for f in result.manifest["files"])  # hashed like the model


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_shared_buffer_only_where_the_graph_allows_it(exported, arch, tmp_path):
    """Learned positions read the cached length from the past tensor's shape, which the shared buffer pads to
    the context length: gpt2 drifts in that mode, so its config keeps it off; rope models keep their tokens."""
    result = exported(arch, "int4")
    spec = DecoderSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in result.manifest["arch"]["spec"].items()})
    config = json.loads((result.bundle / GENAI_CONFIG).read_text())
    assert config["search"]["past_present_share_buffer"] is shares_buffer(spec) is (arch == "llama")
    ids, ours = edgeslm_greedy(result.bundle, PROMPT, 16)
    flipped = with_share_buffer(result.bundle, tmp_path / "b", not shares_buffer(spec))
    assert (genai_greedy(flipped, ids, 16) == ours) is (arch == "llama")


def test_list_formats_names_the_stock_runtimes():
    from edgeslm.backends import BACKENDS
    from edgeslm.backends.stock_runtimes import STOCK_RUNTIMES
    from edgeslm.cli.list_cmd import _rows

    assert set(STOCK_RUNTIMES) == {name for name, _ in BACKENDS.items()}
    header, rows = _rows("formats")
    onnx = dict(zip(header, next(r for r in rows if r[0] == "onnx")))
    assert "onnxruntime-genai" in onnx["stock runtimes that load it"]


def test_no_bos_is_left_out_not_null():
    """GenAI's parser refuses `"bos_token_id": null` (measured: "Expected a number but saw a null"); a model
    without a BOS token (Qwen) leaves the key out, and pad falls back to the first EOS id."""
    from edgeslm.backends.onnx.genai_config import genai_config

    spec = DecoderSpec(model_type="qwen2", vocab_size=128, hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16,
                       intermediate=128, norm="rms", norm_eps=1e-6, mlp="gated", activation="silu", position="rope",
                       rotary_dim=16)
    config = genai_config(spec, {"eos_token_ids": [7, 9], "bos_token_id": None, "pad_token_id": None,
                                 "max_positions": 64}, "model.onnx")
    assert "bos_token_id" not in config["model"] and config["model"]["pad_token_id"] == 7
    assert config["model"]["eos_token_id"] == [7, 9] and config["search"]["past_present_share_buffer"] is True
