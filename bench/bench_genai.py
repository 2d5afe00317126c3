"""onnxruntime-genai on an edgeslm ONNX bundle as exported (its genai_config.json): the KV buffer modes
`past_present_share_buffer` false / true against edgeslm's own onnxruntime runner, measured in the same run.

    flock /work/heavy.lock python bench/bench_genai.py BUNDLE --threads 1

BUNDLE is any ONNX bundle (edgeslm export --target android -o BUNDLE for the default model). Each mode is
checked for the same greedy tokens as edgeslm's runner before it is timed; a mode that drifts is reported,
not timed. The shared mode preallocates the cache to max_length (the context used here, --ctx).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import _time_decode, _time_prefill  # noqa: E402

from contenders.genai_builder import GenaiRunner  # noqa: E402


def genai(bundle: Path, threads: int, ctx: int, share_buffer: bool) -> GenaiRunner:
    """onnxruntime-genai over the bundle's own genai_config.json, the KV-buffer mode overlaid."""
    return GenaiRunner(bundle, threads, ctx, search={"past_present_share_buffer": share_buffer})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--gen-len", type=int, default=64)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args()

    from edgeslm.backends.onnx.runner import OnnxRunner

    rng = np.random.default_rng(0)
    vocab = json.loads((args.bundle / "genai_config.json").read_text())["model"]["vocab_size"]
    ids = rng.integers(min(100, vocab // 4), min(10000, vocab), size=args.prompt_len).astype(np.int64)
    contenders = {"edgeslm onnxruntime runner": lambda: OnnxRunner(args.bundle, args.threads),
                  "genai share_buffer=false": lambda: genai(args.bundle, args.threads, args.ctx, False),
                  "genai share_buffer=true": lambda: genai(args.bundle, args.threads, args.ctx, True)}
    results, reference = {}, None
    for name, make in contenders.items():
        runner = make()
        _time_prefill(runner, ids[None, :], 1)  # warmup
        _, tokens = _time_decode(runner, ids[None, :], args.gen_len, 1)
        reference = reference or tokens
        if tokens != reference:
            results[name] = {"same_greedy_tokens": False}
            print(f"{name}: greedy tokens differ from edgeslm's runner; not timed", flush=True)
            continue
        prefill = _time_prefill(runner, ids[None, :], args.repeats)
        speeds, _ = _time_decode(runner, ids[None, :], args.gen_len, args.repeats)
        results[name] = {"same_greedy_tokens": True, "prefill_ms": statistics.median(prefill),
                         "decode_tok_per_s": statistics.median(speeds)}
        print(f"{name}: prefill {results[name]['prefill_ms']:.1f} ms, decode "
              f"{results[name]['decode_tok_per_s']:.1f} tok/s", flush=True)
        del runner
    base = results["edgeslm onnxruntime runner"]
    print(f"\nprompt {args.prompt_len}, decode {args.gen_len}, ctx {args.ctx}, {args.threads} thread(s), "
          f"median of {args.repeats}; ratios against edgeslm's runner")
    for name, r in results.items():
        if r.get("same_greedy_tokens"):
            r["decode_ratio"] = r["decode_tok_per_s"] / base["decode_tok_per_s"]
            r["prefill_ratio"] = base["prefill_ms"] / r["prefill_ms"]
            print(f"| {name} | {r['prefill_ms']:.1f} ms ({r['prefill_ratio']:.2f}x) | "
                  f"{r['decode_tok_per_s']:.1f} tok/s ({r['decode_ratio']:.2f}x) |")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"bundle": str(args.bundle), "json": None},
                                         "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
