"""Shared by the streaming tests: a streamed export of a tiny model, and re-verifying a streamed bundle from its
source, then from the source with one projection negated, through a backend's own lowering check."""

from __future__ import annotations


def streamed_export(folder, out, target: str, fmt: str, quant: str = "int4"):
    """`edgeslm export --stream` of the model in `folder` to `out` (128 positions, quiet): its ExportResult."""
    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog

    cfg = ExportConfig(output=out, target=target, format=fmt, model=str(folder), quant=quant, max_seq_len=128,
                       stream=True)
    return run_export(cfg, StageLog(quiet=True))


def lowering_exactness_right_and_wrong(backend_name: str, exported, folder, open_runtime=None) -> tuple[dict, dict]:
    """(a)'s manifest section for the true source and for one with layers.1.o_proj negated. `open_runtime`: the
    backend's runner factory (default: its host runner over the bundle)."""
    from transformers import AutoConfig, AutoTokenizer

    from edgeslm.archs import ARCHS
    from edgeslm.backends import BACKENDS
    from edgeslm.model.skeleton import skeleton
    from edgeslm.pipeline.stream_export import two_part_verify
    from edgeslm.quant import get_scheme
    from edgeslm.sources.lazy_weights import canonical_lazy_weights

    config = AutoConfig.from_pretrained(folder)
    backend = BACKENDS.get(backend_name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    scheme = exported.manifest["quant"]["scheme"]["name"]

    def runtime():
        return backend.runner(exported.bundle, exported.manifest["io"], 1)

    def check_with(skel):
        check = backend.lowering_check(skel, get_scheme(scheme), exported.bundle)
        return two_part_verify(skel, tokenizer, open_runtime or runtime, check, scheme, 4, 128, 1
                               ).section["lowering_exactness"]

    skel = skeleton(config, canonical_lazy_weights(ARCHS.get(config.model_type), config, folder), 128)
    right = check_with(skel)
    flipped = skel.values["layers.1.o_proj.weight_t"]
    skel.values["layers.1.o_proj.weight_t"] = lambda: -flipped()
    return right, check_with(skel)
