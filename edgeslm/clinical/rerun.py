"""`edgeslm verify --clinical`: the clinical pack on a published bundle, the source reloaded by verify."""

from __future__ import annotations


def clinical_rerun(result: dict, opened, loaded, per_set: int, threads: int | None) -> dict:
    """The verify result with a `clinical` section; its failures join the verdict."""
    from edgeslm.clinical.check import clinical_check
    from edgeslm.clinical.runtime import clinical_runner
    from edgeslm.model.adapt import adapt

    manifest = opened.manifest
    max_positions = manifest["generation"]["max_positions"]
    if manifest["format"] == "coreml":
        runner, runtime = clinical_runner("coreml", opened.folder, manifest.get("io"), threads,
                                          lambda: adapt(loaded.model, max_positions))
    else:  # the runner verify opened: the bundle's own runtime
        runner, runtime = opened.runner, f"host {manifest['format']}"
    clinical = clinical_check(runner, loaded.model, loaded.tokenizer, result["scheme"], max_positions, per_set,
                              runtime)
    return {**result, "passed": result["passed"] and clinical["passed"],
            "failures": result["failures"] + clinical["failures"], "clinical": clinical}
