"""`edgeslm verify --clinical`: the clinical pack on a published bundle, the source reloaded by verify."""

from __future__ import annotations


def clinical_rerun(result: dict, manifest: dict, folder, loaded, make_decoder, per_set: int,
                   threads: int | None) -> dict:
    """The verify result with a `clinical` section; its failures join the verdict."""
    from edgeslm.backends import BACKENDS
    from edgeslm.clinical.check import clinical_check
    from edgeslm.clinical.runtime import clinical_runner

    max_positions = manifest["generation"]["max_positions"]
    if manifest["format"] == "coreml":
        runner, runtime = clinical_runner("coreml", folder, manifest.get("io"), threads, make_decoder)
    else:  # the bundle's own runtime
        runner = BACKENDS.get(manifest["format"]).runner(folder, manifest.get("io"), threads)
        runtime = f"host {manifest['format']}"
    clinical = clinical_check(runner, loaded.model, loaded.tokenizer, result["scheme"], max_positions, per_set,
                              runtime)
    return {**result, "passed": result["passed"] and clinical["passed"],
            "failures": result["failures"] + clinical["failures"], "clinical": clinical}
