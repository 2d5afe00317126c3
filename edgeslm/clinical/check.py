"""Run the clinical pack through a bundle's runner and the float reference; metrics overall and per set,
the flipped questions, the perplexity ratio, and the verdict against the scheme's budget."""

from __future__ import annotations

import time

from edgeslm.clinical.budgets import budget_for
from edgeslm.clinical.gate import judge_clinical
from edgeslm.clinical.metrics import compare
from edgeslm.clinical.pack import PACK_VERSION, load_pack
from edgeslm.clinical.perplexity import abstract_ids, perplexity_report
from edgeslm.clinical.reference import ReferenceRunner
from edgeslm.clinical.score import answer_probs, encode

DEFAULT_PER_SET = 50
PERPLEXITY_ABSTRACTS = 10


def clinical_check(runner, model, tokenizer, scheme: str, max_positions: int, per_set: int | None = None,
                   runtime: str = "") -> dict:
    start = time.perf_counter()
    per_set = per_set or DEFAULT_PER_SET
    questions = load_pack(per_set)
    encoded = encode(questions, tokenizer, max_positions)
    reference = ReferenceRunner(model)
    ref, got = answer_probs(reference, encoded), answer_probs(runner, encoded)
    keys = [e.question.key for e in encoded]
    labels = [e.question.labels for e in encoded]
    gold = [e.question.answer for e in encoded]
    overall, flipped = compare(keys, labels, gold, ref, got)
    by_set = {}
    for name in dict.fromkeys(q.set for q in questions):
        idx = [i for i, q in enumerate(questions) if q.set == name]
        by_set[name] = compare([keys[i] for i in idx], [labels[i] for i in idx], [gold[i] for i in idx],
                               [ref[i] for i in idx], [got[i] for i in idx])[0].to_dict()
    budget = budget_for(scheme)
    failures = judge_clinical(overall, budget, flipped)
    ppl = perplexity_report(runner, reference, abstract_ids(questions, tokenizer, max_positions,
                                                           PERPLEXITY_ABSTRACTS))
    return {"passed": not failures, "failures": failures, "pack_version": PACK_VERSION, "per_set": per_set,
            "runtime": runtime, "metrics": overall.to_dict(), "by_set": by_set, "flipped": flipped,
            "truncated_prompts": sum(e.truncated for e in encoded), "perplexity": ppl,
            "budget": vars(budget), "seconds": round(time.perf_counter() - start, 1)}
