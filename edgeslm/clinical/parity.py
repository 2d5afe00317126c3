"""The cross-format parity matrix (`edgeslm compare`): bundles of one source against the float reference
(top-1, logit SQNR, clinical answer agreement, largest answer-probability change, size) and against each other
(pairwise answer agreement on the clinical pack)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeslm.backends import BACKENDS
from edgeslm.bundle.confine import require_confined_model
from edgeslm.bundle.reader import checked_manifest
from edgeslm.clinical.metrics import compare
from edgeslm.clinical.pack import load_pack
from edgeslm.clinical.reference import ReferenceRunner
from edgeslm.clinical.score import answer_probs, encode
from edgeslm.errors import UserError
from edgeslm.verify.metrics import measure
from edgeslm.verify.reference import record_reference

DECODE_STEPS = 8


def _source_key(manifest: dict) -> tuple:
    return tuple(sorted((f["name"], f["sha256"]) for f in manifest["source"].get("files", [])))


def load_bundles(bundles: list[Path]) -> list[dict]:
    manifests = []
    for folder in bundles:
        manifest = checked_manifest(folder)
        require_confined_model(folder, manifest)  # compare runs the bundle here: its weights stay inside it
        manifests.append(manifest)
    if len({_source_key(m) for m in manifests}) != 1:
        labels = ", ".join(f"{b}: {m['source'].get('label')}" for b, m in zip(bundles, manifests))
        raise UserError(f"the bundles were not exported from one source ({labels})",
                        hint="compare puts bundles of the same model side by side; compare others with "
                             "`edgeslm report`.")
    return manifests


def pairwise_agreement(picks: list[list[int]]) -> list[list[float]]:
    arr = np.asarray(picks)
    return [[float((arr[i] == arr[j]).mean()) for j in range(len(arr))] for i in range(len(arr))]


def parity(bundles: list[Path], per_set: int, threads: int | None = None) -> dict:
    from edgeslm.model.adapt import adapt
    from edgeslm.sources.load import load_config, load_model
    from edgeslm.verify.prompts import VERIFY_PROMPTS
    from edgeslm.verify.rerun import VerifyOptions, adapter_of, source_of

    manifests = load_bundles(bundles)
    options = VerifyOptions()  # trust decisions come from the command line only: none here
    source = source_of(bundles[0], manifests[0], options)
    loaded = load_model(source, load_config(source, False), False,  # never the bundle's code
                        adapter_of(bundles[0], manifests[0], options))
    max_positions = min(m["generation"]["max_positions"] for m in manifests)
    refs = record_reference(loaded.model, loaded.tokenizer, VERIFY_PROMPTS, DECODE_STEPS, max_positions)
    encoded = encode(load_pack(per_set), loaded.tokenizer, max_positions)
    keys = [e.question.key for e in encoded]
    labels = [e.question.labels for e in encoded]
    gold = [e.question.answer for e in encoded]
    ref_probs = answer_probs(ReferenceRunner(loaded.model), encoded)
    picks = [[int(np.argmax(p)) for p in ref_probs]]
    rows = []
    for folder, manifest in zip(bundles, manifests):
        runner, runtime = BACKENDS.get(manifest["format"]).scoring_runner(
            folder, manifest.get("io"), threads,
            lambda m=manifest: adapt(loaded.model, m["generation"]["max_positions"]))
        logits = measure(runner, refs)
        probs = answer_probs(runner, encoded)
        answers = compare(keys, labels, gold, ref_probs, probs)[0]
        picks.append([int(np.argmax(p)) for p in probs])
        rows.append({"bundle": str(folder), "name": f"{manifest['format']} {manifest['quant']['scheme']['name']}",
                     "runtime": runtime, "bytes": sum(f["bytes"] for f in manifest["files"]),
                     "prompt_top1": round(logits.prompt_top1, 4), "decode_top1": round(logits.decode_top1, 4),
                     "sqnr_db": round(logits.sqnr_db, 2), "answer_agreement": round(answers.agreement, 4),
                     "answer_agreement_ci95": [round(x, 4) for x in answers.agreement_ci95],
                     "max_prob_change": round(answers.max_prob_change, 4), "mean_kl": answers.mean_kl,
                     "accuracy": round(answers.bundle_accuracy, 4)})
    return {"source": manifests[0]["source"].get("label"), "questions": len(encoded), "per_set": per_set,
            "reference_accuracy": round(compare(keys, labels, gold, ref_probs, ref_probs)[0].bundle_accuracy, 4),
            "rows": rows, "matrix_labels": ["float reference"] + [r["name"] for r in rows],
            "agreement_matrix": pairwise_agreement(picks)}
