"""Pack GGUF blocks into onnxruntime contrib ops: MatMulNBits for projections, GatherBlockQuantized for tables.

The blocks are decoded once, backend-neutral, by edgeslm.sources.gguf_blocks (which also decides what carries);
this module only lays them out for onnxruntime. Q4_0 / Q4_1 / Q8_0 (32 elements along K) map exactly onto
``com.microsoft.MatMulNBits`` (block_size 32) and, for the embedding, ``com.microsoft.GatherBlockQuantized``.

MatMulNBits (ORT 1.32): B uint8 (N, K/bs, bs*bits/8), low nibble = even element; scales (N, K/bs);
value = (q - zp) * scale; zero points either uint8 packed like B, shape (N, ceil(K/bs*bits/8)), or float
(N, K/bs). So Q4_0 -> zp 8, Q8_0 -> q + 128 with zp 128, Q4_1 -> float zp -m/d. Measured on ORT 1.32 CPU,
a float zero point drops MatMulNBits onto a slow fallback (~8-25x slower than uint8 zero points at M=1), so
Q4_1 is emitted by default (mode ``"int_zp_residual"``) as the exact split

    d*q + m = d*(q - z) + r,   z = clip(round(-m/d), 0, 15) (uint8),   r = m + d*z (float, |r| <= d/2 typ.)
    y = MatMulNBits(x; q, d, z) + blocksum(x) @ r^T           blocksum: (.., K) -> (.., K/32)

The integer zero point keeps the big offset inside MatMulNBits, so with accuracy_level 4 (int8 activations)
the small float residual term does not cancel against it (a split on m itself lost up to 7% of a layer's
output that way). ``"float_zero_point"`` emits the single-node form.

Rows of q/k projections were permuted by llama.cpp's converter; rows are N, the output features, and blocks
run along K, so undoing that permutation on the blocks is exact (edgeslm.sources.gguf_names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeslm.errors import InternalError, UnsupportedError, UserError
from edgeslm.sources.gguf_blocks import GGUFBlocks, carry_decision, decode_blocks, freeze_arrays, read_gguf_tensors
from edgeslm.sources.gguf_names import CARRY_ARCHS, gguf_tensor_name, unpermute_rows_for

Q4_1_MODES = ("int_zp_residual", "float_zero_point")
MS_DOMAIN = "com.microsoft"


@dataclass(frozen=True)
class NBitsWeight:
    """One (N, K) weight in MatMulNBits' layout, carried from GGUF blocks without re-rounding.

    packed:      uint8 (N, K/block_size, block_size*bits/8); for bits=4 the low nibble is the even element.
    scales:      float32 (N*K/block_size,), row-major over (N, K/block_size).
    zero_points: uint8, packed like ``packed`` along the blocks, flat (N*ceil(K/block_size*bits/8),)
                 (Q4_0: 8, Q8_0: 128); or float32 (N*K/block_size,) for Q4_1 (zero point -m/d).
    mins:        Q4_1 only: float32 (N*K/block_size,), the exact block offsets m (value = d*q + m).
    """

    bits: int
    block_size: int
    N: int
    K: int
    packed: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray
    gguf_type: str
    mins: np.ndarray | None = None

    def __post_init__(self):
        kb = self.K // self.block_size
        want = {"packed": ((self.N, kb, self.block_size * self.bits // 8), np.uint8),
                "scales": ((self.N * kb,), np.float32)}
        if self.zero_points.dtype == np.uint8:
            want["zero_points"] = ((self.N * -(-kb * self.bits // 8),), np.uint8)
        else:
            want["zero_points"] = ((self.N * kb,), np.float32)
        if self.mins is not None:
            want["mins"] = ((self.N * kb,), np.float32)
        if self.bits not in (4, 8) or self.K % self.block_size:
            raise InternalError(f"NBitsWeight: bits={self.bits}, K={self.K}, block_size={self.block_size} "
                                "is not a layout this module produces", hint="report this with --debug")
        freeze_arrays(self, want)

    @property
    def k_blocks(self) -> int:
        return self.K // self.block_size


@dataclass(frozen=True)
class CarryReport:
    """What ``carry_over`` did. ``model`` is a new ModelProto; the input model is left untouched.

    carried:   ONNX initializer name -> (GGUF tensor name, GGUF type, bits, onnx op)
    left_over: ONNX initializer name -> (GGUF tensor name, GGUF type, reason); quantize these normally.
    """

    model: onnx.ModelProto
    carried: dict[str, tuple[str, str, int, str]] = field(default_factory=dict)
    left_over: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"carried {len(self.carried)} GGUF tensors, left {len(self.left_over)} for the quantizer"]
        lines += [f"  left {k} ({g}, {t}): {r}" for k, (g, t, r) in sorted(self.left_over.items())]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- blocks

def _pack_nibbles(q: np.ndarray) -> np.ndarray:
    """(..., 2n) values 0..15 -> (..., n) bytes, low nibble = even element (MatMulNBits' order)."""
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def _packed_zero_points(zp: np.ndarray, bits: int) -> np.ndarray:
    """(N, kb) uint8 zero points -> flat, packed along kb like B (padding nibble 0)."""
    if bits == 8:
        return np.ascontiguousarray(zp, dtype=np.uint8).reshape(-1)
    if zp.shape[1] % 2:
        zp = np.concatenate([zp, np.zeros((zp.shape[0], 1), zp.dtype)], axis=1)
    return _pack_nibbles(zp).reshape(-1)


def to_matmulnbits(blocks: GGUFBlocks) -> NBitsWeight:
    """GGUF blocks in MatMulNBits' layout: the levels packed two per byte (4-bit), the zero point packed like them,
    or, for a grid with a per-block offset (Q4_1), the float zero point -offset/scale and the offsets themselves."""
    N, K, kb = blocks.N, blocks.K, blocks.k_blocks
    q = blocks.q.reshape(N, kb, blocks.block_size)
    packed = q if blocks.bits == 8 else _pack_nibbles(q)
    if blocks.offset is None:
        zp = _packed_zero_points(np.full((N, kb), blocks.zero_point, np.uint8), blocks.bits)
        return NBitsWeight(blocks.bits, blocks.block_size, N, K, packed, blocks.scale.reshape(-1), zp,
                           blocks.gguf_type)
    zp = ((-blocks.offset) / blocks.scale).astype(np.float32)  # d*q + m = d*(q - (-m/d))
    return NBitsWeight(blocks.bits, blocks.block_size, N, K, packed, blocks.scale.reshape(-1), zp.reshape(-1),
                       blocks.gguf_type, mins=blocks.offset.reshape(-1))


def block_to_matmulnbits(tensor, qtype=None, shape: tuple[int, int] | None = None) -> NBitsWeight:
    """One 2-D GGUF weight (a ``gguf.ReaderTensor``, or raw blocks with ``qtype``) in MatMulNBits' layout."""
    return to_matmulnbits(decode_blocks(tensor, qtype, shape))


# ------------------------------------------------------------------------------------------- graph

class GraphEditor:
    """Small helpers to add initializers/nodes with stable, unique names."""

    def __init__(self, model: onnx.ModelProto):
        self.g = model.graph
        self.names = {i.name for i in self.g.initializer} | {n.name for n in self.g.node}
        self.names |= {o for n in self.g.node for o in n.output}
        self.names |= {v.name for v in [*self.g.input, *self.g.output, *self.g.value_info]}
        self.shared: dict[tuple, str] = {}

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def init(self, arr: np.ndarray, base: str) -> str:
        name = self.fresh(base)
        self.g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name


def _matmulnbits_nodes(G: GraphEditor, x: str, y: str, w: NBitsWeight, prefix: str, q4_1_mode: str,
                       accuracy_level: int) -> list[onnx.NodeProto]:
    kb = w.k_blocks
    attrs = dict(K=w.K, N=w.N, bits=w.bits, block_size=w.block_size, accuracy_level=accuracy_level)
    B = G.init(w.packed, f"{prefix}.qweight")
    S = G.init(w.scales.reshape(w.N, kb), f"{prefix}.scales")
    if w.mins is None or q4_1_mode == "float_zero_point":
        zp = w.zero_points if w.zero_points.dtype == np.uint8 else w.zero_points.reshape(w.N, kb)
        Z = G.init(zp.reshape(w.N, -1), f"{prefix}.zero_points")
        return [helper.make_node("MatMulNBits", [x, B, S, Z], [y], name=G.fresh(f"{prefix}/MatMulNBits"),
                                 domain=MS_DOMAIN, **attrs)]
    # int_zp_residual: d*q + m = d*(q - z) + r with an integer z; exact, and MatMulNBits stays on its
    # uint8-zero-point fast path.
    z = np.clip(np.rint(w.zero_points), 0, 15).astype(np.uint8).reshape(w.N, kb)
    resid = (w.mins.reshape(w.N, kb) + w.scales.reshape(w.N, kb) * z).astype(np.float32)
    Z = G.init(_packed_zero_points(z, 4).reshape(w.N, -1), f"{prefix}.zero_points")
    key = ("blocksum", x, w.K, w.block_size)
    nodes = []
    if key not in G.shared:  # q/k/v (and gate/up) read the same x: one block sum serves all of them
        ones = np.kron(np.eye(kb, dtype=np.float32), np.ones((w.block_size, 1), np.float32))  # (K, kb)
        O = G.shared.get(("ones", w.K, w.block_size)) or G.init(ones, f"gguf_carry.blocksum_{w.K}x{kb}")
        G.shared[("ones", w.K, w.block_size)] = O
        G.shared[key] = G.fresh(f"{prefix}.blocksum_out")
        nodes.append(helper.make_node("MatMul", [x, O], [G.shared[key]], name=G.fresh(f"{prefix}/BlockSum")))
    R = G.init(np.ascontiguousarray(resid.T), f"{prefix}.residual_t")  # (kb, N)
    main, corr = G.fresh(f"{prefix}.nbits_out"), G.fresh(f"{prefix}.residual_out")
    nodes += [helper.make_node("MatMulNBits", [x, B, S, Z], [main], name=G.fresh(f"{prefix}/MatMulNBits"),
                               domain=MS_DOMAIN, **attrs),
              helper.make_node("MatMul", [G.shared[key], R], [corr], name=G.fresh(f"{prefix}/ResidualMatMul")),
              helper.make_node("Add", [main, corr], [y], name=G.fresh(f"{prefix}/AddResidual"))]
    return nodes


def gather_nodes(G: GraphEditor, node: onnx.NodeProto, w: NBitsWeight, prefix: str) -> list[onnx.NodeProto]:
    kb = w.k_blocks
    D = G.init(w.packed.reshape(w.N, w.K), f"{prefix}.qweight")  # 8-bit: one byte per element
    S = G.init(w.scales.reshape(w.N, kb), f"{prefix}.scales")
    Z = G.init(w.zero_points.reshape(w.N, kb), f"{prefix}.zero_points")
    return [helper.make_node("GatherBlockQuantized", [D, node.input[1], S, Z], list(node.output),
                             name=G.fresh(f"{prefix}/GatherBlockQuantized"), domain=MS_DOMAIN,
                             bits=w.bits, block_size=w.block_size, gather_axis=0, quantize_axis=1)]


def copy_without_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose graph has no initializers: a carry-over copies only the ones it keeps, never the
    float weights it replaces (for the default model that copy was 0.5 GB of the export's peak)."""
    new = onnx.ModelProto()
    _copy_fields(model, new, skip="graph")
    _copy_fields(model.graph, new.graph, skip="initializer")
    return new


def _copy_fields(src, dst, skip: str) -> None:
    for fd, value in src.ListFields():
        if fd.name == skip:
            continue
        # protobuf >= 6.31 has is_repeated (and deprecates label); older ones have label only
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED
        if repeated:
            getattr(dst, fd.name).extend(value)
        elif fd.message_type is not None:
            getattr(dst, fd.name).CopyFrom(value)
        else:
            setattr(dst, fd.name, value)


def _module_of(onnx_name: str) -> str | None:
    """The decoder module an initializer of our exporter holds (`layers.0.q_proj.weight_t` -> `layers.0.q_proj`)."""
    if onnx_name == "embed.weight":
        return "embed"
    return onnx_name.removesuffix(".weight_t") if onnx_name.endswith(".weight_t") else None


def _gguf_meta(reader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def carry_over(model: onnx.ModelProto, gguf_path, arch: str = "llama", n_heads: int | None = None,
               n_kv_heads: int | None = None, *, q4_1_mode: str = "int_zp_residual",
               accuracy_level: int = 4) -> CarryReport:
    """Replace float weights of an exported decoder by the GGUF's own blocks; return a new model.

    Rewrites ``MatMul(x, layers.{i}.{proj}.weight_t)`` and ``MatMul(x, lm_head.weight_t)`` into
    MatMulNBits and ``Gather(embed.weight, ids)`` into GatherBlockQuantized (8-bit, Q8_0 only) when the
    matching GGUF tensor is Q4_0 / Q4_1 / Q8_0. Everything else is listed in ``left_over`` with a reason.
    ``n_heads`` / ``n_kv_heads`` default to the GGUF metadata; passing values that disagree is an error.
    """
    if arch not in CARRY_ARCHS:
        raise UnsupportedError(f"carry_over: arch {arch!r} has no GGUF tensor map here",
                               hint=f"supported: {', '.join(CARRY_ARCHS)}; quantize the float model instead")
    if q4_1_mode not in Q4_1_MODES:
        raise UserError(f"carry_over: unknown q4_1_mode {q4_1_mode!r}", hint=f"one of {', '.join(Q4_1_MODES)}")
    if accuracy_level not in (0, 1, 4):
        raise UserError(f"carry_over: accuracy_level {accuracy_level} is not 0, 1 or 4 for float input",
                        hint="4 = int8 activations (like llama.cpp's Q8 dot products), 0 = exact fp32")
    path = Path(gguf_path)
    reader, tensors = read_gguf_tensors(path)
    meta_arch = _gguf_meta(reader, "general.architecture")
    if meta_arch != arch:
        raise UserError(f"GGUF {path.name} is arch {meta_arch!r}, not {arch!r}", hint="pass arch=" + repr(meta_arch))
    heads = {"n_heads": (n_heads, _gguf_meta(reader, f"{arch}.attention.head_count")),
             "n_kv_heads": (n_kv_heads, _gguf_meta(reader, f"{arch}.attention.head_count_kv"))}
    for k, (given, stored) in heads.items():
        if given is not None and stored is not None and int(given) != int(stored):
            raise UserError(f"carry_over: {k}={given} but the GGUF says {stored}",
                            hint="the ONNX model and the GGUF must come from the same checkpoint")
        if given is None and stored is None:
            raise UserError(f"carry_over: {k} missing from the GGUF metadata", hint=f"pass {k}=...")
    n_heads = int(heads["n_heads"][0] or heads["n_heads"][1])
    n_kv_heads = int(heads["n_kv_heads"][0] or heads["n_kv_heads"][1])

    new = copy_without_initializers(model)  # never edit what an earlier stage produced; kept ones are added last
    G = GraphEditor(new)
    inits = {i.name: i for i in model.graph.initializer}
    G.names |= set(inits)
    consumers: dict[str, list[int]] = {}  # initializer name -> indices of the nodes reading it
    graph_nodes = list(model.graph.node)
    for k, n in enumerate(graph_nodes):
        for i in n.input:
            consumers.setdefault(i, []).append(k)
    report = CarryReport(model=new)

    replace: dict[int, list[onnx.NodeProto]] = {}  # node index -> replacement nodes
    removed: set[str] = set()
    for onnx_name, init in inits.items():
        module = _module_of(onnx_name)
        gname = None if module is None else gguf_tensor_name(module, tensors)
        if gname is None:
            continue
        if gname not in tensors:
            raise UserError(f"GGUF {path.name} has no tensor {gname!r} for ONNX initializer {onnx_name!r}",
                            hint="the ONNX model and the GGUF must come from the same checkpoint")
        t = tensors[gname]
        tname = t.tensor_type.name
        decision = carry_decision(tname, 4)  # carry_over runs for int4; wider (Q8_0) blocks stay 8-bit here
        if decision.kind == "none":
            report.left_over[onnx_name] = (gname, tname, decision.reason)
            continue
        users = [graph_nodes[k] for k in consumers.get(onnx_name, [])]
        is_embed = onnx_name == "embed.weight"
        want_op, want_pos = ("Gather", 0) if is_embed else ("MatMul", 1)
        if len(users) != 1 or users[0].op_type != want_op or list(users[0].input).index(onnx_name) != want_pos:
            report.left_over[onnx_name] = (gname, tname, f"not consumed by exactly one {want_op} (as input "
                                           f"{want_pos}); found {[u.op_type for u in users]}")
            continue
        node = users[0]
        K, N = int(t.shape[0]), int(t.shape[1])
        want_dims = [N, K] if is_embed else [K, N]
        if list(init.dims) != want_dims:
            raise UserError(f"ONNX {onnx_name} has shape {list(init.dims)}, GGUF {gname} implies {want_dims}",
                            hint="the ONNX model and the GGUF must come from the same checkpoint")
        if is_embed and (tname != "Q8_0" or any(a.name == "axis" and a.i != 0 for a in node.attribute)):
            report.left_over[onnx_name] = (gname, tname, "GatherBlockQuantized is carried for Q8_0 only "
                                           "(4-bit ggml blocks are not its uint4 packing with axis-0 gather)")
            continue
        w = to_matmulnbits(decode_blocks(t, rows=unpermute_rows_for(module, N, n_heads, n_kv_heads)))
        prefix = onnx_name.removesuffix("_t").removesuffix(".weight")
        at = consumers[onnx_name][0]
        if is_embed:
            replace[at] = gather_nodes(G, node, w, prefix)
            op = "GatherBlockQuantized"
        else:
            replace[at] = _matmulnbits_nodes(G, node.input[0], node.output[0], w, prefix, q4_1_mode, accuracy_level)
            op = "MatMulNBits"
        removed.add(onnx_name)
        report.carried[onnx_name] = (gname, tname, w.bits, op)

    nodes = []
    for k, n in enumerate(graph_nodes):
        if k in replace:
            nodes.extend(replace[k])
        else:  # detach a copy: the repeated field is cleared below
            keep_node = onnx.NodeProto()
            keep_node.CopyFrom(n)
            nodes.append(keep_node)
    del new.graph.node[:]
    new.graph.node.extend(nodes)
    new.graph.initializer.extend(init for name, init in inits.items() if name not in removed)
    for k in reversed(range(len(new.graph.input))):
        if new.graph.input[k].name in removed:
            del new.graph.input[k]
    if replace and not any(o.domain == MS_DOMAIN for o in new.opset_import):
        new.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return report
