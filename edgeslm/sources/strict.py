"""Strict loading: every parameter the architecture needs comes from the checkpoint.

transformers fills a tensor missing from the checkpoint with random values (and the reference model carries the
same random values, so verification agrees with itself): a damaged checkpoint would become a bundle with a random
layer. Missing, unexpected and mis-shaped tensors are therefore errors that name them, for safetensors and GGUF
sources (transformers' loading report) and for LoRA adapters (the adapter file against what PEFT expects).
"""

from __future__ import annotations

from pathlib import Path

from edgeslm.errors import UserError


def _names(keys, limit: int = 6) -> str:
    keys = [k if isinstance(k, str) else " ".join(map(str, k)) for k in keys]
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def require_complete(info: dict, label: str) -> None:
    """info: transformers' output_loading_info (missing_keys, unexpected_keys, mismatched_keys, error_msgs)."""
    problems = []
    if missing := sorted(info.get("missing_keys") or []):
        problems.append(f"{len(missing)} tensor(s) missing from the checkpoint: {_names(missing)}")
    if mismatched := list(info.get("mismatched_keys") or []):
        problems.append(f"{len(mismatched)} tensor(s) of the wrong shape: {_names(mismatched)}")
    if unexpected := sorted(info.get("unexpected_keys") or []):
        problems.append(f"{len(unexpected)} tensor(s) the architecture does not have: {_names(unexpected)}")
    if errors := list(info.get("error_msgs") or []):
        problems.append("; ".join(str(e)[:200] for e in errors[:3]))
    if problems:
        raise UserError(f"{label} does not hold exactly the weights its architecture needs: " + "; ".join(problems),
                        hint="The checkpoint is incomplete or belongs to another model: re-download or re-save it. "
                             "edgeslm never fills a missing weight with random values.")


def adapter_file_tensors(adapter: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    path = adapter / "adapter_model.safetensors"
    try:
        with safe_open(str(path), framework="pt") as f:
            return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except Exception as exc:  # safetensors raises SafetensorError (not an OSError) on a bad header
        raise UserError(f"{path} is not a valid safetensors file ({str(exc)[:160]})",
                        hint="Re-save the adapter with peft's save_pretrained.") from None


def require_complete_adapter(peft_model, adapter: Path) -> None:
    """Every LoRA tensor PEFT expects is in the adapter file with its shape, and the file holds nothing else."""
    from peft import get_peft_model_state_dict

    expected = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(peft_model).items()}
    found = adapter_file_tensors(adapter)
    def canonical(key: str) -> str:  # PEFT saves without the adapter name; older files may carry ".default"
        return key.replace(".default.", ".")
    found = {canonical(k): v for k, v in found.items()}
    expected = {canonical(k): v for k, v in expected.items()}
    require_complete({"missing_keys": [k for k in expected if k not in found],
                      "unexpected_keys": [k for k in found if k not in expected],
                      "mismatched_keys": [f"{k} {found[k]} != {expected[k]}" for k in expected
                                          if k in found and found[k] != expected[k]]}, f"adapter {adapter}")
