"""The adapt stage without weights: an EdgeDecoder on the meta device plus where each of its tensors comes from.

The streaming export traces this skeleton (shapes only, no memory) and fills each tensor in later, one at a
time, from `values`: checkpoint tensors stay lazy (edgeslm/sources/lazy_weights.py), the rotary tables are
computed here from the model's own rotary module, instantiated alone from the config.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from edgeslm.archs import ARCHS
from edgeslm.model.adapt import rotary_module, tables_from_rotary
from edgeslm.model.decoder import EdgeDecoder
from edgeslm.model.spec import DecoderSpec


@dataclass
class Skeleton:
    decoder: EdgeDecoder  # on the meta device
    values: dict[str, Callable[[], torch.Tensor]]  # decoder tensor name (as in state_dict) -> float32 value

    @property
    def spec(self) -> DecoderSpec:
        return self.decoder.spec


def _rotary_tables(config, spec: DecoderSpec) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    if spec.position != "rope":
        return {}
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        shell = AutoModelForCausalLM.from_config(config)
    meta_rotary = rotary_module(shell, spec)
    return tables_from_rotary(type(meta_rotary)(meta_rotary.config), spec)


def _decoder_name(canonical: str) -> str:
    """Canonical weight names (layers.0.q_proj.weight) -> the EdgeDecoder's parameter names (weight_t)."""
    if canonical.endswith(".weight") and _is_projection(canonical):
        return canonical[: -len(".weight")] + ".weight_t"
    return canonical


def _is_projection(name: str) -> bool:
    return name.rsplit(".", 2)[-2].endswith("_proj") or name.startswith("lm_head.")


def skeleton(config, lazy_weights: dict, max_positions: int) -> Skeleton:
    arch = ARCHS.get(config.model_type)
    spec = arch.spec(config, max_positions)
    tables = _rotary_tables(config, spec)
    meta = {k: torch.empty(v.shape, device="meta") for k, v in lazy_weights.items()}
    with torch.device("meta"):
        decoder = EdgeDecoder(spec, meta, {k: (c.to("meta"), s.to("meta")) for k, (c, s) in tables.items()})
    values: dict[str, Callable[[], torch.Tensor]] = {}
    for name, lazy in lazy_weights.items():
        values[_decoder_name(name)] = (lambda lz=lazy, n=name: _load(lz, n))
    for name, (cos, sin) in tables.items():
        values[f"cos_{name}"] = (lambda t=cos: t)
        values[f"sin_{name}"] = (lambda t=sin: t)
    missing = set(decoder.state_dict()) - set(values)
    if missing:  # an architecture entry that maps fewer tensors than its decoder holds is a bug here
        raise KeyError(f"no source for decoder tensors {sorted(missing)[:5]}")
    return Skeleton(decoder.eval(), values)


def filled(module: torch.nn.Module, prefix: str, fetch: Callable[[str], torch.Tensor]) -> torch.nn.Module:
    """A copy of a meta-device module (a skeleton's layer, or its shell) with its tensors loaded: each named
    `prefix` + its state_dict name, from `fetch` (e.g. a skeleton's `values[name]()`)."""
    real = copy.deepcopy(module)
    real.load_state_dict({name: fetch(prefix + name) for name in real.state_dict()}, assign=True)
    return real


def layer_by_layer(skel: Skeleton, prepare: Callable[[torch.nn.Module, str], torch.nn.Module],
                   progress: Callable[[int, int], None] | None = None) -> EdgeDecoder:
    """The skeleton's decoder with real tensors, never more than one float layer in memory: the shell (embeddings,
    head, tables) first, then each decoder layer read from `skel.values` and passed through `prepare(module,
    prefix)` (a backend's quantizer: it must leave no float copy behind) before the next is read."""

    def fetch(name: str) -> torch.Tensor:
        return skel.values[name]()

    model = prepare(filled_shell(skel.decoder, fetch), "")  # the head (the layers list is still empty)
    depth = len(skel.decoder.layers)
    for i, meta_layer in enumerate(skel.decoder.layers):
        model.layers.append(prepare(filled(meta_layer, f"layers.{i}.", fetch), f"layers.{i}."))
        if progress:
            progress(i + 1, depth)
    return model.eval()


def filled_shell(decoder: EdgeDecoder, fetch: Callable[[str], torch.Tensor]) -> EdgeDecoder:
    """A skeleton decoder's tensors outside its layers (embeddings, final norm, head, rotary tables) loaded,
    with an empty layer list: the layers are filled one at a time by whoever walks them."""
    shell = copy.deepcopy(decoder)  # meta tensors: no memory
    shell.layers = torch.nn.ModuleList()
    return filled(shell, "", fetch)


def _load(lazy, canonical: str) -> torch.Tensor:
    value = lazy.materialize()
    # Proj stores its weight transposed (in, out): see EdgeDecoder.
    return value.t().contiguous() if _decoder_name(canonical) != canonical else value
