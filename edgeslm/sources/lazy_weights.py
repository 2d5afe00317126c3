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


def canonical_lazy_weights(arch, config, folder: Path) -> dict[str, LazyTensor]:
    """The architecture's canonical weights (layers.<i>.q_proj.weight, embed.weight, ...) as lazy tensors.

    A tensor the architecture needs and the checkpoint lacks is an error that names it: a missing tensor must
    never become a randomly initialised layer.
    """
    state = lazy_state_dict(folder)
    try:
        return arch.weights(_Strict(state), config)
    except _Missing as missing:
        raise UserError(f"the checkpoint in {folder} lacks tensor {missing.name!r} that the "
                        f"{config.model_type} architecture needs",
                        hint="The weights are incomplete (an interrupted download or a wrong shard set); "
                             "re-download the model.") from None


class _Missing(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Strict(dict):
    """A state dict whose missing keys raise a recognisable error instead of a bare KeyError."""

    def __missing__(self, key):
        raise _Missing(key)
