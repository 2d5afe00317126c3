"""The model catalog parses, and its facts hang together."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeslm.catalog import CATALOG, DEFAULT_MODEL_ID, SSM_MODEL_TYPES, find_by_hf_id, get_entry, load_catalog
from edgeslm.errors import UserError

ENTRIES = [entry for _, entry in CATALOG.items()]
IDS = [entry.id for entry in ENTRIES]
# Gemma 3 decouples attention width from the residual width (8 heads x 256 = 2048 < hidden 2560).
HEADS_TIMES_DIM_NOT_HIDDEN = {"gemma3"}


def test_catalog_lists_the_requested_models():
    expected = {"biomedlm", "biogpt", "biogpt-large", "biomistral-7b", "biomistral-7b-dare", "mentalqlm",
                "meditron-7b", "pmc-llama-7b", "medalpaca-7b", "tinyllama-1.1b-medical", "apollo-0.5b",
                "apollo-1.8b", "apollo-2b", "apollo-6b", "apollo-7b", "medgemma-4b", "medmobile",
                "jsl-medphi2-2.7b", "meerkat-7b", "mentallama-chat-7b", "clinicalmamba", "smollm2-135m"}
    assert expected <= set(CATALOG.names())


def test_ids_and_hub_ids_are_unique():
    assert len(set(IDS)) == len(IDS)
    hub = [e.hf_id.lower() for e in ENTRIES if e.hf_id]
    assert len(set(hub)) == len(hub)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_attention_shapes_are_consistent(entry):
    if entry.model_type in SSM_MODEL_TYPES:
        assert (entry.heads, entry.kv_heads, entry.head_dim) == (0, 0, 0)
        return
    assert entry.heads % entry.kv_heads == 0
    if entry.model_type not in HEADS_TIMES_DIM_NOT_HIDDEN:
        assert entry.heads * entry.head_dim == entry.hidden


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_params_match_the_analytic_count(entry):
    # params in the file is the analytic count of its own shape facts: a changed shape must change it too.
    assert entry.facts().total_params == entry.params


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_unsupported_and_adapter_entries_say_why(entry):
    if not entry.supported:
        assert entry.status_note
    if entry.adapter_base:
        assert "/" in entry.adapter_base


def test_requested_statuses():
    assert not get_entry("mentalqlm").supported and "not released" in get_entry("mentalqlm").status_note
    assert not get_entry("clinicalmamba").supported and "mamba" in get_entry("clinicalmamba").status_note
    assert get_entry("tinyllama-1.1b-medical").adapter_base == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert get_entry("medgemma-4b").gated
    assert not get_entry("meerkat-7b").commercial_use


def test_default_model_is_smollm2_with_its_real_config():
    e = get_entry(DEFAULT_MODEL_ID)
    assert e.hf_id == "HuggingFaceTB/SmolLM2-135M-Instruct" and e.model_type == "llama"
    shape = (e.layers, e.hidden, e.heads, e.kv_heads, e.intermediate, e.vocab, e.max_context)
    assert shape == (30, 576, 9, 3, 1536, 49152, 8192)
    assert e.tie_word_embeddings and e.rope_theta == 100000.0
    assert e.params == 134_515_008  # the published SmolLM2-135M count


def test_unknown_model_suggests_the_nearest():
    with pytest.raises(UserError) as err:
        get_entry("biomistral7b")
    assert "Did you mean" in err.value.hint and "biomistral-7b" in err.value.hint


def test_find_by_hf_id_is_case_insensitive():
    assert find_by_hf_id("biomistral/biomistral-7b").id == "biomistral-7b"
    assert find_by_hf_id("nobody/nothing") is None


MINIMAL = """
[[model]]
id = "tiny"
hf_id = "me/tiny"
model_type = "llama"
params = 1000
license = "mit"
gated = false
commercial_use = true
tasks = ["chat"]
layers = 2
hidden = 64
heads = 4
kv_heads = 2
head_dim = 16
intermediate = 96
vocab = 128
max_context = 256
tie_word_embeddings = true
supported = true
status_note = ""
"""


def test_a_minimal_catalog_file_loads(tmp_path: Path):
    path = tmp_path / "catalog.toml"
    path.write_text(MINIMAL)
    assert load_catalog(path).get("tiny").kv_heads == 2


@pytest.mark.parametrize("edit, words", [
    (("supported = true", "supported = true\nmax_seq = 4"), ["unknown key", "'max_seq'"]),
    (("kv_heads = 2", "kv_heads = 3"), ["kv_heads (3) must divide heads (4)"]),
    (("layers = 2", "layers = true"), ["layers must be an integer"]),
    (("id = \"tiny\"", "id = \"Tiny Model\""), ["id must be lowercase"]),
    (("hf_id = \"me/tiny\"", "hf_id = \"\""), ["cannot be supported"]),
], ids=["unknown-key", "kv-heads", "bool-as-int", "bad-id", "no-weights"])
def test_bad_catalog_files_name_the_file_and_the_problem(tmp_path: Path, edit, words):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL.replace(*edit))
    with pytest.raises(UserError) as err:
        load_catalog(path)
    assert str(path) in err.value.message
    for word in words:
        assert word in err.value.message


def test_duplicate_ids_are_refused(tmp_path: Path):
    path = tmp_path / "dup.toml"
    path.write_text(MINIMAL + MINIMAL)
    with pytest.raises(UserError, match="appears twice"):
        load_catalog(path)
