"""GGUF block-quantized weights, decoded once for every backend that carries them over.

Re-quantizing weights that llama.cpp already quantized rounds them twice (on SmolLM2: 0.73-0.83 top-1 against
0.99 for llama.cpp on its own blocks). The Q4_0 / Q4_1 / Q8_0 grids (32 elements along K, the input features)
have exact counterparts in every backend: onnxruntime's MatMulNBits / GatherBlockQuantized, torchao's int4
weights, Core ML's constexpr_blockwise_shift_scale. This module reads the blocks into one backend-neutral form,

    value[n, k] = scale[n, b] * (q[n, k] - zero_point) + offset[n, b],    b = k // 32

and each backend only packs ``q`` / ``scale`` / ``offset`` into its own layout. The block sizes and type codes
come from the gguf package (``GGML_QUANT_SIZES``, ``GGMLQuantizationType``); what this module adds is the
split into q, scale and offset, which gguf's ``dequantize`` fuses. ggml's layouts, per block of 32 along K::

    Q4_0: f16 d | 16 bytes: byte j = q[j] (low nibble), q[j+16] (high)    value = d * (q - 8)
    Q4_1: f16 d | f16 m | 16 bytes as Q4_0                                  value = d * q + m
    Q8_0: f16 d | 32 x int8 q                                               value = d * q  (q + 128 here, zp 128)

Whether a tensor is carried is decided once, here (`carry_decision`); a backend only chooses what to do with a
block wider than the scheme's weights (Q8_0 under int4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeslm.errors import InternalError, UnsupportedError, UserError
from edgeslm.sources.gguf_names import CARRY_ARCHS

BLOCK = 32
EXACT_TYPES = ("Q4_0", "Q4_1", "Q8_0")  # grids with an exact layout in every backend
FLOAT_TYPES = ("F32", "F16", "BF16")
CARRY_SCHEMES = ("int4",)  # schemes whose exports take a GGUF source's own grid instead of re-rounding
_BITS = {"Q4_0": 4, "Q4_1": 4, "Q8_0": 8}
_ZERO_POINT = {"Q4_0": 8, "Q4_1": 0, "Q8_0": 128}


def freeze_arrays(owner, want: dict[str, tuple[tuple[int, ...], type]]) -> None:
    """Check each named array of a frozen dataclass against its (shape, dtype) and make it read-only: frozen means
    frozen, the arrays are shared between stages and never edited."""
    for name, (shape, dtype) in want.items():
        arr = getattr(owner, name)
        if arr.shape != shape or arr.dtype != dtype:
            raise InternalError(f"{type(owner).__name__}.{name}: got {arr.dtype}{arr.shape}, expected "
                                f"{np.dtype(dtype)}{shape}", hint="report this with --debug")
        arr.setflags(write=False)


@dataclass(frozen=True)
class GGUFBlocks:
    """One (N, K) GGUF weight: ``value = scale * (q - zero_point) + offset`` per block of ``block_size`` along K.

    q:          uint8 (N, K), the stored levels (0..15 for 4-bit, 0..255 for Q8_0: ggml's int8 + 128).
    scale:      float32 (N, K/block_size), ggml's f16 d, exactly.
    zero_point: 8 (Q4_0), 128 (Q8_0), 0 (Q4_1).
    offset:     Q4_1 only: float32 (N, K/block_size), ggml's f16 m, exactly; None where the grid has none.
    A Q4_1 block with d == 0 is the constant m: it is held as q = 0, scale 1, offset m (exact in every layout).
    """

    gguf_type: str
    bits: int
    block_size: int
    q: np.ndarray
    scale: np.ndarray
    zero_point: int
    offset: np.ndarray | None = None

    def __post_init__(self):
        N, K = self.q.shape
        if self.bits not in (4, 8) or K % self.block_size:
            raise InternalError(f"GGUFBlocks: bits={self.bits}, K={K}, block_size={self.block_size} is not a "
                                "layout this module produces", hint="report this with --debug")
        want = {"q": ((N, K), np.uint8), "scale": ((N, K // self.block_size), np.float32)}
        if self.offset is not None:
            want["offset"] = want["scale"]
        freeze_arrays(self, want)

    @property
    def N(self) -> int:
        return int(self.q.shape[0])

    @property
    def K(self) -> int:
        return int(self.q.shape[1])

    @property
    def k_blocks(self) -> int:
        return self.K // self.block_size

    def dequantize(self) -> np.ndarray:
        """float32 (N, K): the weight these blocks stand for."""
        q = self.q.reshape(self.N, self.k_blocks, self.block_size).astype(np.float32) - self.zero_point
        value = self.scale[..., None] * q
        if self.offset is not None:
            value = value + self.offset[..., None]
        return value.reshape(self.N, self.K)

    def permute_rows(self, index: np.ndarray) -> GGUFBlocks:
        """New blocks whose row i is this one's row ``index[i]``. Blocks run along K, so this is exact."""
        index = np.asarray(index)
        if sorted(index.tolist()) != list(range(self.N)):
            raise UserError(f"permute_rows: index is not a permutation of {self.N} rows",
                            hint="build it with llama_unpermute_index(N, n_heads)")

        def rows(a):
            return None if a is None else np.ascontiguousarray(a[index])

        return GGUFBlocks(self.gguf_type, self.bits, self.block_size, rows(self.q), rows(self.scale),
                          self.zero_point, rows(self.offset))


def _f16(b: np.ndarray) -> np.ndarray:
    """(..., 2) uint8 little-endian half floats -> (...) float32, exactly."""
    return np.ascontiguousarray(b).view(np.float16)[..., 0].astype(np.float32)


def _ggml_nibbles(qs: np.ndarray) -> np.ndarray:
    """(..., 16) ggml bytes -> (..., 32) values: low nibbles are elements 0..15, high ones 16..31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def decode_blocks(tensor, qtype=None, shape: tuple[int, int] | None = None, rows: np.ndarray | None = None
                  ) -> GGUFBlocks:
    """Decode the blocks of one 2-D GGUF weight into q / scale / offset, bit for bit.

    ``tensor``: a ``gguf.ReaderTensor`` (type and shape taken from it), or a raw uint8 block array of shape
    (N, K/32*bytes_per_block) as ``gguf.quants.quantize`` returns, with ``qtype`` (a ``gguf.GGMLQuantizationType``
    or its name) and optionally ``shape`` = (N, K). ``rows``: a row index to apply (llama's q/k un-permute).
    """
    import gguf

    if hasattr(tensor, "tensor_type") and hasattr(tensor, "data"):
        qtype = qtype or tensor.tensor_type
        ne = [int(x) for x in tensor.shape]  # ggml order: ne[0] = K (contiguous), ne[1] = N
        if len(ne) != 2:
            raise UnsupportedError(f"GGUF tensor {tensor.name!r} has shape {ne}; only 2-D weights carry",
                                   hint="quantize this tensor with the normal quantizer")
        shape = shape or (ne[1], ne[0])
        raw = tensor.data
    else:
        raw = tensor
        if qtype is None:
            raise UserError("decode_blocks: a raw block array needs qtype",
                            hint="pass qtype=gguf.GGMLQuantizationType.Q4_0 (or Q4_1, Q8_0)")
    qt = gguf.GGMLQuantizationType[qtype] if isinstance(qtype, str) else gguf.GGMLQuantizationType(qtype)
    if qt.name not in EXACT_TYPES:
        raise UnsupportedError(f"GGUF type {qt.name} has no exact block layout in edgeslm's backends",
                               hint=f"only {', '.join(EXACT_TYPES)} carry; quantize this tensor normally")
    block_size, type_size = gguf.GGML_QUANT_SIZES[qt]
    raw = np.asarray(raw)
    if raw.dtype != np.uint8:
        raise UserError(f"decode_blocks: blocks must be uint8, got {raw.dtype}",
                        hint="pass the bytes as stored in the GGUF (gguf.quants.quantize output)")
    if shape is None:
        if raw.ndim != 2:
            raise UserError(f"decode_blocks: cannot infer (N, K) from a {raw.shape} block array",
                            hint="pass shape=(N, K)")
        shape = (raw.shape[0], raw.shape[1] // type_size * block_size)
    N, K = (int(s) for s in shape)
    if K % block_size or raw.size != N * K // block_size * type_size:
        raise UserError(f"decode_blocks: {raw.size} bytes of {qt.name} do not hold a ({N}, {K}) weight",
                        hint=f"{qt.name} stores {type_size} bytes per {block_size} elements along K")
    kb = K // block_size
    b = raw.reshape(N, kb, type_size)
    d = _f16(b[..., 0:2])  # (N, kb)
    offset = None
    if qt.name == "Q8_0":
        q = (np.ascontiguousarray(b[..., 2:]).view(np.int8).astype(np.int16) + 128).astype(np.uint8)
    elif qt.name == "Q4_0":
        q = _ggml_nibbles(b[..., 2:])
    else:  # Q4_1; a block with d == 0 is the constant m: q = 0, scale 1, offset m
        offset = _f16(b[..., 2:4])
        q = _ggml_nibbles(b[..., 4:])
        flat = d == 0
        if flat.any():
            q = np.where(flat[..., None], np.uint8(0), q)
            d = np.where(flat, np.float32(1), d)
    blocks = GGUFBlocks(qt.name, _BITS[qt.name], block_size, np.ascontiguousarray(q.reshape(N, K), np.uint8), d,
                        _ZERO_POINT[qt.name], offset)
    return blocks if rows is None else blocks.permute_rows(rows)


def read_gguf_tensors(gguf_path) -> tuple[object, dict]:
    """(the gguf.GGUFReader, its tensors by name) for a GGUF file, with a clear error when it is missing."""
    from edgeslm.sources.resolve import shared_gguf_reader

    path = Path(gguf_path)
    if not path.is_file():
        raise UserError(f"GGUF file not found: {path}", hint="pass the .gguf the model was loaded from")
    reader = shared_gguf_reader(path)
    return reader, {t.name: t for t in reader.tensors}


@dataclass(frozen=True)
class CarryDecision:
    """What becomes of one GGUF tensor in a scheme's export.

    kind: "carry"  -- an exact grid no wider than the scheme's weights: move the blocks over;
          "wider"  -- an exact grid wider than the scheme's weights (Q8_0 under int4): the backend keeps it at
                      its own width or lets the scheme's quantizer take it (each backend's manifest says which);
          "none"   -- no exact layout (or nothing block-quantized): the scheme's quantizer takes it; `reason` says why.
    """

    kind: str
    gguf_type: str
    bits: int = 0
    reason: str = ""


def carry_decision(gguf_type: str, weight_bits: int) -> CarryDecision:
    """The one rule for every backend: can a `gguf_type` tensor be carried into weights of `weight_bits`."""
    if gguf_type in FLOAT_TYPES:
        return CarryDecision("none", gguf_type, reason="not block-quantized in the GGUF; nothing to carry")
    if gguf_type not in EXACT_TYPES:
        return CarryDecision("none", gguf_type, reason=f"{gguf_type} blocks have no exact layout in the backends")
    bits = _BITS[gguf_type]
    return CarryDecision("carry" if bits <= weight_bits else "wider", gguf_type, bits)


def grid_not_carried(scheme_name: str, model_type: str) -> str | None:
    """Why a GGUF source's grid is not carried into a `scheme_name` export of `model_type`; None when it is."""
    if scheme_name not in CARRY_SCHEMES:
        return (f"not carried over ({scheme_name}; GGUF grids are carried at {', '.join(CARRY_SCHEMES)}): "
                "re-quantized from the dequantized GGUF weights (rounding twice)")
    if model_type not in CARRY_ARCHS:
        return (f"no GGUF tensor map for {model_type} (have: {', '.join(CARRY_ARCHS)}); re-quantized, "
                "rounding twice")
    return None
