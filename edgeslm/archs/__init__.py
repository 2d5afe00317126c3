"""Architecture registry, keyed by Hugging Face `model_type`. One file per family, one line here each."""

from edgeslm.archs import biogpt, gemma3, gpt2, llama, mistral, phi, phi3, qwen2
from edgeslm.archs.base import Arch
from edgeslm.registry import Registry

ARCHS: Registry[Arch] = Registry("architecture", "edgeslm list archs")

for _arch in (llama.ARCH, mistral.ARCH, qwen2.ARCH, phi3.ARCH, gemma3.ARCH, gemma3.MULTIMODAL, gpt2.ARCH,
              biogpt.ARCH, phi.ARCH):
    ARCHS.add(_arch.model_type, _arch)
