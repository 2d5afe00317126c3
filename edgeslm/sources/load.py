"""The load stage: a resolved source becomes a float PyTorch model + tokenizer + provenance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from edgeslm.archs import ARCHS
from edgeslm.bundle.manifest import sha256
from edgeslm.errors import EdgeSLMError, UnsupportedError, UserError, as_environment_error
from edgeslm.sources.gguf_sharing import transformers_share_reader
from edgeslm.sources.resolve import ResolvedSource, check_hf_folder, shared_gguf_reader
from edgeslm.sources.strict import require_complete, require_complete_adapter


@dataclass
class SourceInfo:
    kind: str
    label: str
    hub_id: str | None
    revision: str | None
    path: str | None
    files: list[dict] = field(default_factory=list)  # {"name", "sha256", "bytes"}
    gguf_types: dict[str, int] = field(default_factory=dict)  # source quant types (tensor counts)
    adapter: dict | None = None
    catalog_id: str | None = None

    @classmethod
    def of(cls, src, files: list[Path], root: Path, gguf_types: dict[str, int] | None = None) -> "SourceInfo":
        """The provenance of a resolved source: absolute path, sha256 of its files (for the manifest)."""
        return cls(kind=src.kind, label=src.label, hub_id=src.hub_id,
                   revision=src.path.name if src.kind == "hub" else None, path=str(src.path.resolve()),
                   files=file_records(files, root), gguf_types=gguf_types or {},
                   catalog_id=src.catalog.id if src.catalog else None)


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    config: object
    source: SourceInfo


def file_records(paths: list[Path], root: Path) -> list[dict]:
    return [{"name": str(p.relative_to(root)), "sha256": sha256(p), "bytes": p.stat().st_size}
            for p in sorted(paths) if p.is_file()]


def supported_arch(model_type: str) -> None:
    if model_type not in ARCHS:
        raise UnsupportedError(
            f"architecture {model_type!r} is not supported",
            hint="Supported architectures: " + ", ".join(ARCHS.names()) + ". `edgeslm list archs` describes them.")


def load_config(src: ResolvedSource, trust_remote_code: bool):
    """The config alone (no weights): for the fit check and the architecture check before loading."""
    from transformers import AutoConfig

    try:
        if src.gguf_file is not None:
            with transformers_share_reader(src.path):
                config = AutoConfig.from_pretrained(src.path.parent, gguf_file=src.path.name)
        else:
            config = AutoConfig.from_pretrained(src.path, trust_remote_code=trust_remote_code)
    except OSError as exc:  # transformers reports an unreadable or invalid config.json as an OSError
        if as_environment_error(exc) is not None:
            raise
        raise UserError(f"cannot read the config of {src.label}: {str(exc)[:300]}",
                        hint="config.json must be the model's valid JSON config; re-download or re-save it.") \
            from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise UserError(f"{src.label} needs custom code from the model repository to load",
                            hint="Review the repository's code, then pass --trust-remote-code.") from None
        raise UnsupportedError(f"cannot read the config of {src.label}: {exc}",
                               hint="`edgeslm list archs` lists the supported architectures.") from None
    supported_arch(config.model_type)
    return config


def load_model(src: ResolvedSource, config, trust_remote_code: bool, adapter: Path | None) -> LoadedModel:
    from transformers import AutoTokenizer

    if src.gguf_file is not None:
        reader = shared_gguf_reader(src.path)
        types = Counter(t.tensor_type.name for t in reader.tensors)
        kwargs = {"gguf_file": src.path.name}
        root, files = src.path.parent, [src.path]
    else:
        types, kwargs, root = Counter(), {"trust_remote_code": trust_remote_code}, src.path
        files = [p for p in src.path.iterdir() if p.is_file()]
    location = src.path.parent if src.gguf_file is not None else src.path
    try:
        with transformers_share_reader(src.path if src.gguf_file is not None else None):
            model = load_weights(location, src.label, {**kwargs, "config": config})
            tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
    except Exception as exc:  # noqa: BLE001  a model's files are input: whatever breaks while reading them
        raise load_error(exc, src.label) from None
    info = SourceInfo.of(src, files, root, dict(types))
    if adapter is not None:
        model, info.adapter = merge_adapter(model, adapter)
    return LoadedModel(model.eval(), tokenizer, config, info)


def load_weights(location: Path, label: str, kwargs: dict):
    """The float model, only when the checkpoint has every tensor the architecture needs, each of its shape."""
    from transformers import AutoModelForCausalLM

    try:
        model, loading = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32,
                                                              output_loading_info=True, **kwargs)
    except RuntimeError as exc:
        if "ignore_mismatched_sizes" not in str(exc):
            raise
        # transformers refuses mis-shaped tensors without naming them: reload only to list them in the error.
        _, loading = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32, output_loading_info=True,
                                                          ignore_mismatched_sizes=True, **kwargs)
    require_complete(loading, label)  # no tensor may have been filled with random values
    return model


def load_error(exc: Exception, label: str) -> EdgeSLMError:
    """A failure while reading a model's files: the machine's fault (disk) or the input's, never a crash.

    Covers corrupt or mismatched weights, a GGUF without the tokenizer fields transformers needs, a pickle that
    torch's weights_only loader refuses (it would run code), a bad adapter_config.json."""
    if isinstance(exc, EdgeSLMError):
        return exc
    if (env := as_environment_error(exc)) is not None:
        return env
    import pickle

    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        return UserError(f"{label}: torch refused to unpickle the weights (they would run code): {str(exc)[:200]}",
                         hint="Use a safetensors copy of the model; pickle weights can execute anything.")
    return UserError(f"could not load {label}: {type(exc).__name__}: {str(exc)[:300]}",
                     hint="Check that it is a complete, uncorrupted model (config, weights, tokenizer) of a supported "
                          "architecture; re-download or re-save it.")


def merge_adapter(model, adapter: Path):
    """Merge a PEFT LoRA adapter into the base weights (MentalQLM, TinyLlama-Medical, MedAlpaca-LoRA ship so)."""
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter} is not a PEFT adapter folder: no adapter_config.json",
                        hint="Pass the folder written by peft's save_pretrained.")
    weights = list(adapter.glob("adapter_model.safetensors"))
    if not weights:
        raise UserError(f"{adapter} has no adapter_model.safetensors", hint="Save the adapter with safetensors.")
    try:
        peft_model = PeftModel.from_pretrained(model, adapter)
    except Exception as exc:  # noqa: BLE001  a bad adapter_config.json, another model's adapter, a corrupt file
        raise load_error(exc, f"adapter {adapter}") from None
    require_complete_adapter(peft_model, adapter)
    merged = peft_model.merge_and_unload()
    return merged, {"path": str(Path(adapter).resolve()), "files": file_records(list(adapter.iterdir()), adapter)}


def prepare_folder(src: ResolvedSource, allow_pickle: bool) -> ResolvedSource:
    """A hub id becomes a local snapshot folder (checked like any other folder)."""
    if src.kind != "hub":
        return src
    from edgeslm.sources.hub import download

    folder, _revision = download(src.hub_id)
    check_hf_folder(folder, allow_pickle)
    return ResolvedSource("hub", src.label, folder, hub_id=src.hub_id, catalog=src.catalog)
