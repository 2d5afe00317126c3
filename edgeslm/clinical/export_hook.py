"""`edgeslm export --clinical`: the clinical check as one call after the verify stage (pipeline/export.py)."""

from __future__ import annotations

from edgeslm.clinical.check import DEFAULT_PER_SET, clinical_check


def clinical_stage(cfg, log, stage_dir, artifact, loaded, decoder, scheme: str, max_positions: int) -> dict | None:
    """None unless --clinical; else the manifest's `clinical` section (its `failures` join the verdict)."""
    if not cfg.clinical:
        return None
    per_set = cfg.clinical_n or DEFAULT_PER_SET
    with log.stage("clinical", f"{per_set} questions per set of the clinical pack, bundle vs float reference"):
        from edgeslm.backends import BACKENDS

        runner, runtime = BACKENDS.get(cfg.format).scoring_runner(stage_dir, artifact.io, cfg.threads,
                                                                  lambda: decoder)
        result = clinical_check(runner, loaded.model, loaded.tokenizer, scheme, max_positions, per_set, runtime)
    m = result["metrics"]
    log.note(f"clinical: agreement {m['agreement']:.3f} (95% CI {m['agreement_ci95'][0]:.3f}-"
             f"{m['agreement_ci95'][1]:.3f}), max option-probability change {m['max_prob_change']:.3f}, "
             f"{'passed' if result['passed'] else 'FAILED'}")
    return result
