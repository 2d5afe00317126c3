"""Measure one .pte through ExecuTorch's stock LLM runner (`TextLLMRunner`), in its own process.

Run by bench_executorch.py as
`python bench/et_llm_runner.py --pte P --tokenizer T --inputs I --threads N --repeats R --out O`.
The runner tokenizes text itself, so the timed prompt (inputs.json's prefill ids) is decoded back to text;
the token count the runner actually saw is reported (`prompt_tokens`). Timings are the runner's own `Stats`
(milliseconds, the figures its printed report is made of):
  prefill = prompt_eval_end - inference_start;  decode tok/s = generated / (inference_end - prompt_eval_end).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from harness import _peak_rss_bytes, add_run_args, proc_status_bytes

STATS_FIELDS = ("inference_start_ms", "token_encode_end_ms", "prompt_eval_end_ms", "first_token_ms",
                "inference_end_ms", "aggregate_sampling_time_ms", "num_prompt_tokens", "num_generated_tokens")


def _set_threads(threads: int) -> None:
    # The runner's XNNPACK ops run on ExecuTorch's process-wide threadpool; its size defaults to the
    # core count, so it is set explicitly for every contender alike.
    # The runner's .so links the pybindings' _C and libexecutorch_threadpool: one pool for both.
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(threads)


def _register_kernels() -> None:
    # llama::custom_sdpa / update_cache and quantized_decomposed::embedding_byte are not in the core
    # runtime; importing these registers them in the kernel registry the runner shares with the pybindings.
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401
    import executorch.kernels.quantized  # noqa: F401


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pte", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True)
    add_run_args(p)
    args = p.parse_args()
    inputs = json.loads(args.inputs.read_text())

    from tokenizers import Tokenizer
    from executorch.extension.llm.runner import GenerationConfig, TextLLMRunner

    _register_kernels()
    _set_threads(args.threads)
    text = Tokenizer.from_file(str(args.tokenizer)).decode(inputs["prefill_ids"])
    rss_before_load = proc_status_bytes("VmRSS")
    t0 = time.perf_counter()
    runner = TextLLMRunner(str(args.pte), str(args.tokenizer))
    load_s = time.perf_counter() - t0
    # +1: the first generated token comes from the prefill's logits; the rest are one decode call each.
    config = GenerationConfig(echo=False, max_new_tokens=inputs["decode_tokens"] + 1, temperature=0.0)
    runs, pieces = [], []
    for index in range(args.repeats + 1):  # the first run is the warm-up
        stats = []
        pieces = []
        runner.reset()
        runner.generate(text, config, token_callback=pieces.append, stats_callback=stats.append)
        if index == 0:
            continue
        if not stats:
            sys.exit("TextLLMRunner.generate returned no Stats")
        runs.append({k: getattr(stats[-1], k) for k in STATS_FIELDS})
    prefill_ms = [s["prompt_eval_end_ms"] - s["inference_start_ms"] for s in runs]
    decode = [s["num_generated_tokens"] / max(s["inference_end_ms"] - s["prompt_eval_end_ms"], 1) * 1e3
              for s in runs]
    result = {
        "threads": args.threads,
        "load_s": load_s,
        "prompt_tokens": runs[-1]["num_prompt_tokens"],
        "generated_tokens": runs[-1]["num_generated_tokens"],
        "prefill_ms": min(prefill_ms),
        "prefill_ms_median": statistics.median(prefill_ms),
        "decode_tok_s": max(decode),
        "decode_tok_s_median": statistics.median(decode),
        "peak_rss_mb": _peak_rss_bytes() / 1e6,
        # The runner package imports torch for its shared libraries: that part of the RSS is not the model's.
        "rss_before_load_mb": rss_before_load / 1e6,
        "torch_loaded": "torch" in sys.modules,
        "text": "".join(pieces),
        "stats": runs,
    }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
