"""Checkpoint tensors read one at a time: the streaming export never holds the whole model.

A `LazyTensor` names a tensor in a safetensors shard plus the view operations an architecture entry applies
to it (transpose, split, chunk, `1 + w`, ...). The architecture's own weight mapping (`Arch.weights`) runs
unchanged on a dict of lazy tensors, so the streaming path and the in-memory path share one name map and one
set of fused-projection splits. `materialize()` opens the shard (safetensors' memory map), copies out the one
tensor as float32, applies the recorded operations and closes the map again, so pages of the checkpoint do
not stay resident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from edgeslm.errors import UserError

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


@dataclass(frozen=True)
class TensorRef:
    """Where a checkpoint tensor lives, and what it is, read from the shard's header alone."""

    file: Path
    name: str
    shape: tuple[int, ...]
    dtype: str  # safetensors dtype code (BF16, F32, ...)


@dataclass(frozen=True)
class LazyTensor:
    """A checkpoint tensor plus deferred torch operations; quacks enough like a tensor for `Arch.weights`."""

    ref: TensorRef
    ops: tuple = field(default=())  # (method name, args, kwargs) applied in order after loading
    shape: torch.Size = field(default=None)

    def __post_init__(self):
        if self.shape is None:
            object.__setattr__(self, "shape", torch.Size(self.ref.shape))

    def _then(self, op: str, *args, **kwargs) -> "LazyTensor":
        probe = getattr(torch.empty(self.shape, device="meta"), op)(*args, **kwargs)
        return LazyTensor(self.ref, self.ops + ((op, args, kwargs),), probe.shape)

    def _pieces(self, op: str, *args, **kwargs) -> tuple["LazyTensor", ...]:
        probes = getattr(torch.empty(self.shape, device="meta"), op)(*args, **kwargs)
        return tuple(LazyTensor(self.ref, self.ops + (("_piece", (op, args, kwargs, i), {}),), p.shape)
                     for i, p in enumerate(probes))

    # The operations the architecture entries use.
    def t(self):
        return self._then("t")

    def float(self):
        return self._then("float")

    def split(self, sizes, dim=0):
        return self._pieces("split", sizes, dim=dim)

    def chunk(self, chunks, dim=0):
        return self._pieces("chunk", chunks, dim=dim)

    def __add__(self, other):
        return self._then("__add__", other)

    def __radd__(self, other):
        return self._then("__radd__", other)

    def numel(self) -> int:
        return self.shape.numel()

    @property
    def dtype(self):
        return torch.float32

    def materialize(self) -> torch.Tensor:
        """The tensor as float32 (what the in-memory path's `from_pretrained(dtype=float32)` gives)."""
        from safetensors import safe_open

        with safe_open(str(self.ref.file), framework="pt") as shard:
            value = shard.get_tensor(self.ref.name)
        value = value.float() if value.is_floating_point() else value
        for op, args, kwargs in self.ops:
            if op == "_piece":
                name, piece_args, piece_kwargs, index = args
                value = getattr(value, name)(*piece_args, **piece_kwargs)[index]
            else:
                value = getattr(value, op)(*args, **kwargs)
        return value.contiguous()


def _shard_header(path: Path) -> dict:
    import struct

    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def lazy_state_dict(folder: Path) -> dict[str, LazyTensor]:
    """Every tensor of a safetensors checkpoint (one file or shards), by its checkpoint name; nothing is read
    but the headers."""
    shards = sorted(Path(folder).glob("*.safetensors"))
    if not shards:
        raise UserError(f"{folder} has no *.safetensors weights to stream",
                        hint="Streaming export reads safetensors checkpoints; convert pickle weights first.")
    state: dict[str, LazyTensor] = {}
    for shard in shards:
        for name, info in _shard_header(shard).items():
            if name == "__metadata__":
                continue
            if info["dtype"] not in _DTYPES:
                raise UserError(f"{shard.name}: tensor {name} has dtype {info['dtype']}, which edgeslm cannot read",
                                hint="Save the checkpoint in float32, float16 or bfloat16.")
            state[name] = LazyTensor(TensorRef(shard, name, tuple(info["shape"]), info["dtype"]))
    return state


def _meta_model(config):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def renamed_as_transformers_loads(state: dict[str, LazyTensor], model) -> dict[str, LazyTensor]:
    """Checkpoint names -> the model's own names, by transformers' own conversion mapping (legacy prefixes such
    as gemma3's `language_model.model.*`, base-model prefixes). A tensor transformers would merge or split on
    load (a WeightConverter) cannot be read lazily one name at a time: refused."""
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if not isinstance(t, WeightRenaming)]
    meta_state = model.state_dict()
    out = {}
    for key, tensor in state.items():
        name, converted = rename_source_key(key, renamings, converters, model.base_model_prefix, meta_state)
        if converted is not None:
            raise UserError(f"tensor {key} is converted by transformers when loading ({converted}); "
                            "this checkpoint cannot be streamed tensor by tensor",
                            hint="Export it in memory (--no-stream) on a host with enough memory.")
        out[name] = tensor
    return out


def _tied_groups(model) -> list[set[str]]:
    """Names that share one parameter (a tied embedding and head): one of them on disk is enough."""
    groups: dict[int, set[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(param), set()).add(name)
    return [g for g in groups.values() if len(g) > 1]


def check_against_config(state: dict[str, LazyTensor], model, folder: Path) -> None:
    """Every tensor the architecture defines must be in the checkpoint with its shape, and nothing else.

    The expected names and shapes come from transformers' own model class, built on the meta device (no
    memory): a missing tensor must never become a randomly initialised layer, and a surplus one means the
    checkpoint is not the model its config describes.
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    covered = {name for group in _tied_groups(model) if group & state.keys() for name in group}
    missing = sorted(k for k in expected if k not in state and k not in covered)
    unexpected = sorted(k for k in state if k not in expected)
    misshaped = sorted(f"{k} {tuple(state[k].shape)} (expected {expected[k]})" for k in state
                       if k in expected and tuple(state[k].shape) != expected[k])
    problems = [(what, names) for what, names in
                (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)) if names]
    if problems:
        listed = "; ".join(f"{what}: {', '.join(names[:6])}{' ...' if len(names) > 6 else ''} ({len(names)})"
                           for what, names in problems)
        raise UserError(f"the checkpoint in {folder} does not match its config.json ({model.config.model_type}): "
                        f"{listed}",
                        hint="The weights are incomplete or belong to another model (an interrupted download, a "
                             "wrong shard set, a config from another checkpoint); re-download the model.")


def canonical_lazy_weights(arch, config, folder: Path) -> dict[str, LazyTensor]:
    """The architecture's canonical weights (layers.<i>.q_proj.weight, embed.weight, ...) as lazy tensors,
    after the checkpoint was renamed as transformers loads it and checked tensor by tensor against the config."""
    model = _meta_model(config)
    state = renamed_as_transformers_loads(lazy_state_dict(folder), model)
    check_against_config(state, model, folder)
    return arch.weights(state, config)
