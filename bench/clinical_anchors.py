"""The clinical gate's anchors scored by edgeslm's own clinical code: the ORT GenAI builder's int4 bundle and
optimum-executorch's 8da4w .pte of the default model, against the float reference `edgeslm export --clinical`
uses, under the int4 budget. Prints the same figures as bench/clinical_schemes.py.

    flock /work/heavy.lock python bench/clinical_anchors.py --only genai_builder optimum_executorch --per-set 10

Artifacts come from bench/results/cache (built there on first use, as bench_onnx.py / bench_executorch.py do).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import artifacts
import et_artifacts
from clinical_schemes import summary
from driver import BENCH

ANCHORS = {  # contender module in bench/contenders/ -> (cache, hf folder) -> its artifact
    "genai_builder": artifacts.builder_folder,
    "optimum_executorch": lambda cache, hf: et_artifacts.optimum_folder(cache, hf)[0],
}


def float_reference(max_seq_len: int):
    """The default model loaded as `edgeslm export` loads it (pipeline/export.py), and its max_positions."""
    from edgeslm.pipeline.export import _max_positions
    from edgeslm.sources.load import load_config, load_model, prepare_folder
    from edgeslm.sources.resolve import resolve

    source = prepare_folder(resolve(None), False)
    config = load_config(source, False)
    return load_model(source, config, False, None), _max_positions(config, max_seq_len)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=list(ANCHORS), default=list(ANCHORS))
    ap.add_argument("--per-set", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=2048, help="positions: the prompt cut and each runner's KV size")
    ap.add_argument("--cache-dir", type=Path, default=BENCH / "results" / "cache")
    ap.add_argument("--json", type=Path, help="also write each full clinical result here")
    args = ap.parse_args()
    from edgeslm.clinical.check import clinical_check

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    hf = artifacts.hf_folder(args.cache_dir)
    loaded, max_positions = float_reference(args.ctx)
    full = {}
    for name in args.only:
        artifact = ANCHORS[name](args.cache_dir, hf)
        runner = importlib.import_module(f"contenders.{name}").load(artifact, args.threads, max_positions)
        result = clinical_check(runner, loaded.model, loaded.tokenizer, "int4", max_positions, args.per_set, name)
        full[name] = result
        print(json.dumps({"anchor": name, "max_positions": max_positions, **summary(result),
                          "by_set": {s: {k: m[k] for k in ("agreement", "max_prob_change", "mean_kl")}
                                     for s, m in result["by_set"].items()},
                          "perplexity": result["perplexity"], "seconds": result["seconds"]}), flush=True)
        del runner
    if args.json:
        args.json.write_text(json.dumps(full, indent=2, default=str))


if __name__ == "__main__":
    main()
