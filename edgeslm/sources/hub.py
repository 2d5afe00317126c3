"""Hub ids: resolved through the huggingface_hub cache. Offline, a missing model is a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from edgeslm.errors import UserError


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def download(hub_id: str, revision: str | None = None) -> tuple[Path, str]:
    """Return (local snapshot folder, commit hash), from the cache first, then the network if allowed."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "tokenizer*"]
    try:
        path = snapshot_download(hub_id, revision=revision, allow_patterns=patterns, local_files_only=True)
    except Exception:  # not cached: fall through to the network
        path = None
    if path is None:
        hint = (f"Download it where you have network access: `hf download {hub_id} --local-dir DIR`, then "
                f"pass --model DIR (or copy the hub cache to this machine).")
        if hub_offline():
            raise UserError(f"{hub_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set", hint=hint)
        try:
            path = snapshot_download(hub_id, revision=revision, allow_patterns=patterns)
        except GatedRepoError:
            raise UserError(f"{hub_id} is gated: its licence must be accepted on the hub first",
                            hint=f"Accept it on the model page, run `hf auth login`, then retry. {hint}") from None
        except RepositoryNotFoundError:
            raise UserError(f"no model {hub_id!r} on the hub (or it is private)",
                            hint="Check the id; `edgeslm list models` lists the catalog.") from None
        except Exception as exc:  # network down, DNS, proxy: all the same to the user
            raise UserError(f"could not download {hub_id}: {type(exc).__name__}: {_first_line(exc)}", hint=hint) \
                from None
    folder = Path(path)
    return folder, folder.name  # snapshot folders are named by commit hash


def _first_line(exc: Exception, limit: int = 300) -> str:
    """The error's first line, shortened at a word boundary (never cut mid-word)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
