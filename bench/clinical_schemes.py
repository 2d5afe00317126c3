"""The clinical gate per quant scheme on one model: export each scheme with --clinical (kept even when it
fails) and print agreement, max option-probability change and KL. The numbers behind edgeslm/clinical/budgets.py.

    python bench/clinical_schemes.py --model DIR --quant fp32 int8 int4 --per-set 10 [--format onnx] [--target linux]

(Heavy for a real model: run under `flock /work/heavy.lock`.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeslm.errors import VerificationError
from edgeslm.pipeline.config import ExportConfig
from edgeslm.pipeline.export import run_export
from edgeslm.pipeline.progress import StageLog

KEYS = ("questions", "agreement", "agreement_ci95", "max_prob_change", "mean_kl", "reference_accuracy",
        "bundle_accuracy", "modal_rate", "source_at_chance")


def summary(clinical: dict) -> dict:
    """The figures printed per bundle from a clinical_check result (also bench/clinical_anchors.py's)."""
    return {"passed": clinical["passed"], **{k: clinical["metrics"][k] for k in KEYS},
            "perplexity_ratio": clinical["perplexity"]["ratio"], "failures": clinical["failures"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="default: the embedded SmolLM2")
    ap.add_argument("--quant", nargs="+", default=["int8", "int4"])
    ap.add_argument("--format", default=None)
    ap.add_argument("--target", default="linux")
    ap.add_argument("--per-set", type=int, default=10)
    ap.add_argument("--max-seq-len", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for quant in args.quant:
            out = Path(tmp) / quant
            cfg = ExportConfig(output=out, target=args.target, format=args.format, model=args.model, quant=quant,
                               max_seq_len=args.max_seq_len, clinical=True, clinical_n=args.per_set,
                               keep_unverified=True)
            try:
                run_export(cfg, StageLog(quiet=True))
            except VerificationError:
                pass  # kept, marked unverified: its figures are what we want
            clinical = json.loads((out / "manifest.json").read_text())["clinical"]
            print(json.dumps({"quant": quant, "format": cfg.format, **summary(clinical)}), flush=True)


if __name__ == "__main__":
    main()
