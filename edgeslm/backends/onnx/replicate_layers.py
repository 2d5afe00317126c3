"""Trace two decoder layers, write all of them: the ONNX graph of an L-layer decoder from a 2-layer trace.

torch.onnx (torch.export, decompositions, onnxscript translation) costs per traced operator: ~28 s of the default
model's 30 layers on the 2-core VM (issue #15's profile), the same again for every layer of a 7B model. When every
layer after the first has the same attention parameters, rotary table and weight shapes, the graph of layer 1
(traced between layer 0 and the head, so with the shapes and shared inputs every later layer sees) is the graph
of every later layer up to names. So the decoder is traced with its first two layers only, and layer 1's nodes are
copied for layers 2 .. L-1 with their values, weights (``layers.1.*`` -> ``layers.i.*``) and cache inputs/outputs
(``past_key_values.1.*`` / ``present.1.*``) renamed, each copy reading the previous copy's output.

Layers are found by the exporter's own record of the module each node came from (the ``pkg.torch.onnx.name_scopes``
metadata). Anything unexpected (a layer's output not unique, a layer's node without a scope, a weight of layer 1
not named for it) refuses the shortcut, and the caller traces the whole model as before. tests/test_onnx_replicate
_layers.py holds the replicated graph equal to the full trace on every architecture.
"""

from __future__ import annotations

import ast
import dataclasses

import onnx
from onnx import numpy_helper

TEMPLATE = 1  # the layer copied: the first one that reads a previous layer's output


def can_replicate(decoder) -> bool:
    """Every layer from the template on computes the same graph: same attention parameters, rotary table and
    parameter shapes (gemma3's alternating windows and tables do not; those models are traced whole)."""
    layers = list(decoder.layers)
    if len(layers) <= TEMPLATE + 1:
        return False
    ref = layers[TEMPLATE]
    shapes = _param_shapes(ref)
    return all(layer.params == ref.params and layer.table == ref.table and _param_shapes(layer) == shapes
               for layer in layers[TEMPLATE + 1:])


def _param_shapes(layer) -> dict:
    return {name: tuple(p.shape) for name, p in layer.named_parameters()}


def two_layer_decoder(decoder):
    """A shallow copy of ``decoder`` with its first TEMPLATE + 1 layers (weights shared, nothing copied)."""
    import torch.nn as nn

    keep = TEMPLATE + 1
    spec = decoder.spec
    short = dataclasses.replace(spec, layers=keep, sliding_windows=spec.sliding_windows[:keep],
                                rope_tables=spec.rope_tables[:keep])
    clone = object.__new__(type(decoder))
    clone.__dict__ = dict(decoder.__dict__)
    clone.__dict__["_modules"] = dict(decoder._modules)
    clone._modules["layers"] = nn.ModuleList(list(decoder.layers)[:keep])
    clone.__dict__["spec"] = short
    return clone


class NotReplicable(Exception):
    """The traced graph does not have the layer structure the copy relies on: trace the whole model instead."""


def _layer_of(node: onnx.NodeProto) -> int | None:
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = ast.literal_eval(prop.value)
            if len(scopes) > 1 and scopes[1].startswith("layers."):
                return int(scopes[1].split(".")[1])
    return None


def _renamer(layer: int):
    old, new = f"layers.{TEMPLATE}", f"layers.{layer}"

    def weight(name: str) -> str:
        return new + name[len(old):]

    def cache(name: str) -> str:
        return name.replace(f".{TEMPLATE}.", f".{layer}.", 1)

    return weight, cache


def replicate(proto: onnx.ModelProto, decoder) -> onnx.ModelProto:
    """The full decoder's graph from ``proto``, the trace of ``two_layer_decoder(decoder)``, written into ``proto``
    itself (a copy would hold the traced weights twice); weights of the copied layers come from ``decoder``'s
    parameters. Raises NotReplicable, before any edit, when the trace has an unexpected shape."""
    L = decoder.spec.layers
    graph = proto.graph
    scope = [_layer_of(n) for n in graph.node]
    template = [n for n, s in zip(graph.node, scope) if s == TEMPLATE]
    produced_in = {o: s for n, s in zip(graph.node, scope) for o in n.output}
    inits = {t.name: t for t in graph.initializer}
    if not template or any(n.op_type == "GroupQueryAttention" and s is None for n, s in zip(graph.node, scope)):
        raise NotReplicable("a layer's nodes carry no module scope")

    # The template's input from the previous layer and its output to the head, each a single value.
    template_outputs = {o for n in template for o in n.output}
    template_reads = [i for n in template for i in n.input if i]
    entry = {i for i in template_reads if produced_in.get(i) == TEMPLATE - 1}
    read_by_previous = {i for n, s in zip(graph.node, scope) if s == TEMPLATE - 1 for i in n.input}
    entry -= read_by_previous  # values layer 0 itself also reads (mask, lengths) are shared, not the hidden state
    exits = {i for n, s in zip(graph.node, scope) if s is None for i in n.input if i in template_outputs}
    if len(entry) != 1 or len(exits) != 1:
        raise NotReplicable(f"layer {TEMPLATE} has {len(entry)} inputs from layer {TEMPLATE - 1} and {len(exits)} "
                            "outputs to the head; one of each expected")
    (h_in,), (h_out,) = entry, exits
    for name in template_reads:
        if name in inits and name.startswith("layers.") and not name.startswith(f"layers.{TEMPLATE}."):
            raise NotReplicable(f"layer {TEMPLATE} reads another layer's weight {name}")
    layer_weights = sorted({i for i in template_reads if i.startswith(f"layers.{TEMPLATE}.") and i in inits})
    private_consts = {i for i in template_reads if i in inits and i not in layer_weights
                      and all(s == TEMPLATE for n, s in zip(graph.node, scope) if i in n.input)}
    if private_consts:  # a folded constant only layer 1 reads may hold layer 1's own data under a generic name
        raise NotReplicable(f"layer {TEMPLATE} reads constants no other layer shares: {sorted(private_consts)[:3]}")
    params = dict(decoder.named_parameters())
    params.update(dict(decoder.named_buffers()))
    for name in layer_weights:
        if name not in params:
            raise NotReplicable(f"initializer {name} is not a parameter of the decoder")
    # Every weight of the template layer read under its own name: the optimizer stores equal small initializers
    # once, and a layer-1 norm read under another layer-1 weight's name would make every copy read the wrong one.
    own = {f"layers.{TEMPLATE}.{n}" for n, _ in decoder.layers[TEMPLATE].named_parameters()}
    if own - set(layer_weights):
        raise NotReplicable(f"layer {TEMPLATE} does not read its own {sorted(own - set(layer_weights))[:3]}")
    if any(i.startswith(f"layers.{TEMPLATE}.") for n, s in zip(graph.node, scope) if s != TEMPLATE for i in n.input):
        raise NotReplicable(f"a node outside layer {TEMPLATE} reads its weights")

    last = max(k for k, s in enumerate(scope) if s == TEMPLATE)
    if any(h_out in n.input for k, n in enumerate(graph.node[:last + 1]) if scope[k] != TEMPLATE):
        raise NotReplicable(f"a node outside layer {TEMPLATE} reads its output before the layer ends")
    copies, new_inits, new_inputs, new_outputs, new_info = [], [], [], [], []
    value_info = {v.name: v for v in graph.value_info}
    cache_inputs = {i.name: i for i in graph.input if i.name.startswith(f"past_key_values.{TEMPLATE}.")}
    cache_outputs = {o.name: o for o in graph.output if o.name.startswith(f"present.{TEMPLATE}.")}
    previous_out = h_out
    for layer in range(TEMPLATE + 1, L):
        weight, cache = _renamer(layer)
        names = {h_in: previous_out}
        names.update({w: weight(w) for w in layer_weights})
        names.update({c: cache(c) for c in [*cache_inputs, *cache_outputs]})
        for n in template:
            for o in n.output:
                names.setdefault(o, f"{o}__layer{layer}")
        for n in template:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            copy.name = f"{n.name}__layer{layer}"
            copy.input[:] = [names.get(i, i) for i in n.input]
            copy.output[:] = [names.get(o, o) for o in n.output]
            for prop in copy.metadata_props:
                prop.value = prop.value.replace(f"layers.{TEMPLATE}", f"layers.{layer}")
            copies.append(copy)
        new_inits += [weight(w) for w in layer_weights]
        for put, source in ((new_inputs, cache_inputs), (new_outputs, cache_outputs)):
            for name, value in source.items():
                v = onnx.ValueInfoProto()
                v.CopyFrom(value)
                v.name = cache(name)
                put.append(v)
        for name, info in value_info.items():
            if name in names and names[name] != name and name != h_in:  # h_in's new name has its own entry
                v = onnx.ValueInfoProto()
                v.CopyFrom(info)
                v.name = names[name]
                new_info.append(v)
        previous_out = names[h_out]
    new_nodes = []
    for k, n in enumerate(graph.node):
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        if k > last:  # the head reads the last copy's output
            copy.input[:] = [previous_out if i == h_out else i for i in n.input]
        new_nodes.append(copy)
        if k == last:
            new_nodes.extend(copies)

    g = proto.graph  # edited in place: the caller's fresh serialization of the trace, shared with nobody
    inputs, outputs = list(g.input), list(g.output)
    del g.node[:], g.input[:], g.output[:]
    g.node.extend(new_nodes)
    for name in new_inits:  # one tensor at a time: a list of them all would hold the copied layers twice
        g.initializer.append(numpy_helper.from_array(params[name].detach().cpu().numpy(), name))
    g.value_info.extend(new_info)
    g.input.extend(_cache_order(inputs + new_inputs, "past_key_values."))
    g.output.extend(_cache_order(outputs + new_outputs, "present."))
    return proto


def _cache_order(values: list, prefix: str) -> list:
    """Graph inputs / outputs in the exporter's order: the non-cache ones first, then the caches by layer."""
    def key(v):
        if not v.name.startswith(prefix):
            return (0, 0, 0)
        _, layer, kind = v.name.rsplit(".", 2)
        return (1, int(layer), 0 if kind == "key" else 1)
    return sorted(values, key=key)
