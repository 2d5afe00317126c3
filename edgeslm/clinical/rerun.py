"""`edgeslm verify --clinical`: the clinical pack on a published bundle, the source reloaded by verify."""

from __future__ import annotations


def clinical_rerun(result: dict, manifest: dict, folder, loaded, make_decoder, per_set: int,
                   threads: int | None) -> dict:
    """The verify result with a `clinical` section; its failures join the verdict."""
    from edgeslm.backends import BACKENDS
    from edgeslm.clinical.check import clinical_check

    max_positions = manifest["generation"]["max_positions"]
    runner, runtime = BACKENDS.get(manifest["format"]).scoring_runner(folder, manifest.get("io"), threads,
                                                                      make_decoder)
    clinical = clinical_check(runner, loaded.model, loaded.tokenizer, result["scheme"], max_positions, per_set,
                              runtime)
    return {**result, "passed": result["passed"] and clinical["passed"],
            "failures": result["failures"] + clinical["failures"], "clinical": clinical}
