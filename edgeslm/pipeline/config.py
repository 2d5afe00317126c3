"""ExportConfig: one CLI option, one field (ARCHITECTURE.md convention 2). Validated on construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslm.backends import BACKENDS
from edgeslm.errors import UnsupportedError, UserError
from edgeslm.quant import get_scheme
from edgeslm.targets import KNOWN_FORMATS, get_target

DEFAULT_MAX_SEQ_LEN = 2048
DEFAULT_DECODE_TOKENS = 16
# The most decode steps verify runs per prompt: an export's bundle must be re-verifiable (verify/rerun.py reads
# the same bound from a manifest it does not trust).
MAX_DECODE_TOKENS = 256
MIN_MAX_SEQ_LEN = 16  # the shortest context a bundle serves (plan checks the same bound)


@dataclass(frozen=True)
class ExportConfig:
    output: Path
    target: str = "android"
    model: str | None = None  # None: the embedded default (SmolLM2-135M-Instruct)
    format: str | None = None  # None: the target's default
    quant: str | None = None  # None: the target's default
    adapter: Path | None = None
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN
    force: bool = False
    allow_pickle: bool = False
    trust_remote_code: bool = False
    strict: bool = False  # every recorded fallback becomes an error
    keep_unverified: bool = False  # write the bundle (marked unverified) even when verify fails
    verify_decode_tokens: int = DEFAULT_DECODE_TOKENS
    carry_gguf_grid: bool = True  # keep a GGUF source's Q4_0/Q4_1/Q8_0 blocks instead of re-quantizing
    threads: int | None = None
    clinical: bool = False  # also run the clinical pack (edgeslm/clinical) after the verify stage
    clinical_n: int | None = None  # questions per clinical set (None: the default)
    stream: bool | None = None  # None: stream when the in-memory export would exceed max_memory
    max_memory: int | None = None  # bytes the export may use; None: what this host has available now

    def __post_init__(self) -> None:
        target = get_target(self.target)
        fmt = self.format or target.default_format
        if fmt not in KNOWN_FORMATS:
            BACKENDS.get(fmt)  # raises the did-you-mean error
        if fmt not in target.formats:
            raise UnsupportedError(f"target {target.name} does not run the {fmt} format",
                                   hint=f"{target.name} runs: {', '.join(target.formats)}.")
        if fmt not in BACKENDS:
            raise UnsupportedError(f"the {fmt} backend is not built into this edgeslm version yet",
                                   hint=f"Available formats: {', '.join(BACKENDS.names())}"
                                        f"{' (--target android or linux)' if target.name == 'ios' else ''}.")
        scheme = get_scheme(self.quant or target.default_quant)
        support = BACKENDS.get(fmt).supports("", scheme)
        if not support.ok:
            raise UnsupportedError(f"--quant {scheme.name} is not available for --format {fmt}: {support.reason}",
                                   hint="`edgeslm list quant` shows which schemes each format runs.")
        if self.max_seq_len < MIN_MAX_SEQ_LEN:
            raise UserError(f"--max-seq-len must be at least {MIN_MAX_SEQ_LEN}, got {self.max_seq_len}",
                            hint="It is the longest prompt + answer the bundle serves, e.g. --max-seq-len 2048.")
        if not 0 <= self.verify_decode_tokens <= MAX_DECODE_TOKENS:
            raise UserError(f"--verify-tokens must be between 0 and {MAX_DECODE_TOKENS}, got "
                            f"{self.verify_decode_tokens}",
                            hint=f"The default ({DEFAULT_DECODE_TOKENS}) checks the KV-cache path; more steps add "
                                 "time, not coverage. `edgeslm verify` re-runs the bundle with the same count.")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be >= 1, got {self.threads}")
        if self.clinical_n is not None and self.clinical_n < 1:
            raise UserError(f"--clinical-n must be at least 1, got {self.clinical_n}")
        if self.max_memory is not None and self.max_memory < 10**9:
            raise UserError(f"--max-memory must be at least 1GB, got {self.max_memory / 10**9:.2f} GB",
                            hint="Pass e.g. --max-memory 16GB; the export needs the runtime libraries besides weights.")
        if self.stream and self.clinical:
            raise UnsupportedError("--clinical needs the float model in memory; a streamed export has none",
                                   hint="Export with --no-stream on a host with the memory for it.")
        blocker = BACKENDS.get(fmt).stream_blocker(scheme) if self.stream else None
        if blocker:
            streaming = " and ".join(name for name, b in BACKENDS.items() if b.streams)
            raise UnsupportedError(f"--stream is not possible: {blocker}",
                                   hint=f"{streaming} stream (executorch and coreml at int4 / int8); or drop "
                                        "--stream for an in-memory export.")
        if self.adapter is not None and not Path(self.adapter).is_dir():
            raise UserError(f"adapter folder {self.adapter} does not exist",
                            hint="--adapter takes the folder of a PEFT LoRA adapter (adapter_config.json).")
        object.__setattr__(self, "format", fmt)
        object.__setattr__(self, "quant", scheme.name)
        object.__setattr__(self, "output", Path(self.output))
