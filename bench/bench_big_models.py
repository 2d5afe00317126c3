"""Big-model export: peak memory and time of `edgeslm export` on random-weight checkpoints of real shapes.

    python bench/bench_big_models.py --shape tinyllama-1.1b                     # streaming (the default here)
    python bench/bench_big_models.py --shape tinyllama-1.1b --mode in-memory    # the baseline, same run
    python bench/bench_big_models.py --shape biomistral-7b --target android-16gb
    python bench/bench_big_models.py --shape medmobile-3.8b --format executorch --target android-12gb

For each shape it writes (once, cached under --work) a bf16 safetensors checkpoint of random weights, one
shard per decoder layer so that writing it never holds the model, with a BPE tokenizer trained on the medical
QA text of ../shared/eval (vocabulary below the model's, so every id fits). Then it runs the real CLI as a
user would, under `/usr/bin/time -v` (peak RSS of the whole process, wall and CPU seconds), reads the bundle's
manifest (stage seconds, the two verify parts) and runs `edgeslm run` on the bundle to show it generates.

Random weights honestly fail the quantization-drift gate at int4 (near-uniform logits); the export is run
with --keep-unverified and the bench reports both parts: lowering exactness must pass at any scale.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

SHAPES = {
    # TinyLlama-1.1B's shape (the measurement of the in-memory path: 15.7 GB peak).
    "tinyllama-1.1b": dict(model_type="llama", hidden_size=2048, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, intermediate_size=5632, vocab_size=49152,
                           max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=10000.0),
    # BioMistral-7B (Mistral-7B-v0.1's shape).
    "biomistral-7b": dict(model_type="mistral", hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                          num_key_value_heads=8, intermediate_size=14336, vocab_size=32000,
                          max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=10000.0,
                          sliding_window=None),
    # MedMobile (Phi-3-mini-4k's shape): fused qkv and gate_up projections.
    "medmobile-3.8b": dict(model_type="phi3", hidden_size=3072, num_hidden_layers=32, num_attention_heads=32,
                           num_key_value_heads=32, intermediate_size=8192, vocab_size=32064,
                           max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, pad_token_id=32000),
    # MedGemma-4B's language model (Gemma-3-4B's text config): 5 sliding-window layers to 1 global, linear rope
    # scaling x8 on the global layers, a 262k vocabulary (0.67 B parameters in the tied table alone).
    "medgemma-4b": dict(model_type="gemma3_text", hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
                        num_attention_heads=8, num_key_value_heads=4, head_dim=256, vocab_size=262208,
                        sliding_window=1024, max_position_embeddings=131072, rms_norm_eps=1e-6,
                        query_pre_attn_scalar=256, tie_word_embeddings=True,
                        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
}


def write_tokenizer(folder: Path, vocab_size: int) -> None:
    """Byte-level BPE trained on the eval text (or a built-in paragraph when ../shared/eval is absent)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval"
    texts = []
    for path in sorted(root.glob("**/*.jsonl"))[:2]:
        texts += [line for line in path.read_text().splitlines()[:3000]]
    if not texts:
        texts = ["The patient presents with chest pain, shortness of breath and elevated troponin."] * 100
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=min(vocab_size, 8192), special_tokens=["<s>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(folder)


def write_checkpoint(shape: str, folder: Path, seed: int = 0) -> Path:
    """config.json + one bf16 safetensors shard per layer (+ one for embeddings/head) + an index."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    if (folder / "model.safetensors.index.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fields = dict(SHAPES[shape])
    config = AutoConfig.for_model(fields.pop("model_type"), **{"tie_word_embeddings": False, **fields},
                                  bos_token_id=1, eos_token_id=2, torch_dtype="bfloat16")
    with torch.device("meta"):
        meta = AutoModelForCausalLM.from_config(config)
    # Independent Gaussians for 7 B weights cost minutes of CPU; memory, time and lowering exactness do not
    # care: every tensor is a window of one pool of N(0, 0.02) values at its own random offset.
    generator = torch.Generator().manual_seed(seed)
    pool = (torch.randn(1 << 24, generator=generator) * 0.02).to(torch.bfloat16)
    groups: dict[str, dict] = {}
    for name, param in meta.state_dict().items():
        match = re.search(r"\.layers\.(\d+)\.", name)
        groups.setdefault(f"layer{int(match.group(1)):03d}" if match else "top", {})[name] = param.shape
    weight_map = {}
    for group, shapes in groups.items():
        shard = f"model-{group}.safetensors"
        tensors = {}
        for name, dims in shapes.items():
            if name.endswith("norm.weight"):
                tensors[name] = torch.ones(dims, dtype=torch.bfloat16)
            else:
                count = torch.Size(dims).numel()
                offset = int(torch.randint(0, pool.numel(), (1,), generator=generator))
                reps = (count + offset) // pool.numel() + 1
                tensors[name] = pool.repeat(reps)[offset: offset + count].reshape(dims).clone()
            weight_map[name] = shard
        save_file(tensors, str(folder / shard), metadata={"format": "pt"})
        del tensors
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config.save_pretrained(folder)
    write_tokenizer(folder, config.vocab_size)
    return folder


def timed(argv: list[str]) -> dict:
    """Run a command under /usr/bin/time -v; its exit code, wall/CPU seconds, peak RSS and output tail."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    wall = time.perf_counter() - start
    stats = dict(re.findall(r"^\s*(.+?): (.+)$", proc.stderr, re.M))
    return {"exit": proc.returncode, "wall_s": round(wall, 1),
            "cpu_s": round(float(stats.get("User time (seconds)", 0)) + float(stats.get("System time (seconds)", 0)), 1),
            "peak_rss_gb": round(int(stats.get("Maximum resident set size (kbytes)", 0)) * 1024 / 1e9, 2),
            "stdout": proc.stdout.splitlines()[-10:],
            "tail": [line for line in proc.stderr.splitlines() if not line.startswith("\t")][-20:]}


def bench(shape: str, mode: str, target: str, quant: str, work: Path, max_seq_len: int, fmt: str = "onnx",
          verify_tokens: int | None = None) -> dict:
    source = write_checkpoint(shape, work / f"{shape}-random-bf16")
    checkpoint_gb = sum(p.stat().st_size for p in source.glob("*.safetensors")) / 1e9
    out = work / f"{shape}-{fmt}-{quant}-{mode}"
    flag = "--stream" if mode == "streaming" else "--no-stream"
    export = timed([sys.executable, "-m", "edgeslm", "export", "--model", str(source), "--target", target,
                    "--format", fmt, "--quant", quant, "--max-seq-len", str(max_seq_len), "--keep-unverified",
                    "--force", flag, "-o", str(out)]
                   + (["--verify-tokens", str(verify_tokens)] if verify_tokens is not None else []))
    result = {"shape": shape, "format": fmt, "mode": mode, "target": target, "quant": quant,
              "verify_tokens": verify_tokens,
              "checkpoint_gb": round(checkpoint_gb, 2), "export": export}
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        verify = manifest["verify"]
        result.update(
            bundle_gb=round(sum(f["bytes"] for f in manifest["files"]) / 1e9, 2),
            stage_seconds=manifest["stage_seconds"],
            lowering_exactness=verify.get("lowering_exactness"),
            drift={"passed": verify["passed"] if "quantization_drift" not in verify
                   else verify["quantization_drift"]["passed"], "metrics": verify["metrics"]})
        run = timed([sys.executable, "-m", "edgeslm", "run", str(out), "--prompt",
                     "What are the common symptoms of type 2 diabetes?", "-n", "8"])
        result["run"] = {"exit": run["exit"], "peak_rss_gb": run["peak_rss_gb"], "wall_s": run["wall_s"],
                         "generated": run["stdout"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tinyllama-1.1b")
    parser.add_argument("--mode", choices=("streaming", "in-memory"), default="streaming")
    parser.add_argument("--target", default="linux")
    parser.add_argument("--quant", default="int4")
    parser.add_argument("--format", choices=("onnx", "executorch", "coreml"), default="onnx")
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edgeslm-bench-big"))
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--verify-tokens", type=int, default=None,
                        help="decode steps verify runs per prompt (default: export's); fewer is faster where the "
                             "host runs the bundle slowly (Core ML's stored weights in PyTorch)")
    args = parser.parse_args()
    result = bench(args.shape, args.mode, args.target, args.quant, args.work, args.max_seq_len, args.format,
                   args.verify_tokens)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
