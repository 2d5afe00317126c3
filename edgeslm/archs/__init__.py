"""Architecture registry, keyed by Hugging Face `model_type`. One file per family, one line here each."""

from edgeslm.archs import biogpt, gemma3, gpt2, llama, mistral, phi, phi3, qwen2
from edgeslm.archs.base import Arch
from edgeslm.registry import Registry

ARCHS: Registry[Arch] = Registry("architecture", "edgeslm list archs")

for _module in (llama, mistral, qwen2, phi3, gemma3, gpt2, biogpt, phi):
    ARCHS.add(_module.ARCH.model_type, _module.ARCH)
