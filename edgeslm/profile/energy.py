"""Energy per token and per answer: measured where a counter exists, estimated (and labelled so) elsewhere.

Measured: Linux RAPL (`/sys/class/powercap/*/energy_uj`, package domains) read around the run.
Estimated: the target's active power figure (targets/*.toml, with its source) x the measured busy time.
Every figure carries its `method` and `source`; a survey's "x% less carbon" is never a bundle's property.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

RAPL_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class EnergyReport:
    kind: str  # "measured" | "estimated"
    method: str
    source: str
    prefill_j_per_token: float
    decode_j_per_token: float
    j_per_answer: float  # one prompt of prompt_len tokens + an answer of gen_len tokens
    tokens_per_j: float  # decode tokens per joule
    co2e_g_per_answer: float | None  # only with a user-given grid intensity
    # False when the reading cannot mean what it says (a phone charging over USB while its battery gauge was
    # read): the numbers are still shown, next to the reason, never silently as a measurement.
    meaningful: bool = True
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def rapl_domains(root: Path = RAPL_ROOT) -> list[Path]:
    """Readable package-level RAPL counters (intel-rapl:N, not the sub-domains intel-rapl:N:M)."""
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.glob("*rapl:*")):
        counter = d / "energy_uj"
        if d.name.count(":") == 1 and counter.is_file():
            try:
                int(counter.read_text())
                out.append(counter)
            except (OSError, ValueError):  # present but not readable (needs root on recent kernels)
                continue
    return out


def read_rapl_uj(counters: list[Path]) -> int:
    return sum(int(c.read_text()) for c in counters)


def estimate(prefill_s: float, decode_s_per_token: float, prompt_len: int, gen_len: int, active_w: float,
             source: str, grid_g_per_kwh: float | None = None) -> EnergyReport:
    prefill_j = active_w * prefill_s
    decode_j = active_w * decode_s_per_token
    answer = prefill_j + decode_j * gen_len
    return EnergyReport(
        kind="estimated", method="target active power x measured busy time (prefill and decode wall time)",
        source=source, prefill_j_per_token=prefill_j / max(prompt_len, 1), decode_j_per_token=decode_j,
        j_per_answer=answer, tokens_per_j=1.0 / decode_j if decode_j else 0.0,
        co2e_g_per_answer=co2e(answer, grid_g_per_kwh))


RAPL_METHOD = ("Linux RAPL package energy counters read around the timed runs (whole package, includes other "
               "processes' draw)")


def measured(joules: float, prefill_share: float, prompt_len: int, gen_len: int, answers: int,
             grid_g_per_kwh: float | None = None, method: str = RAPL_METHOD,
             source: str = str(RAPL_ROOT)) -> EnergyReport:
    """Split one reading over `answers` runs by the share of wall time spent in prefill."""
    per_answer = joules / max(answers, 1)
    prefill_j = per_answer * prefill_share
    decode_j = (per_answer - prefill_j) / max(gen_len, 1)
    return EnergyReport(
        kind="measured", method=method, source=source, prefill_j_per_token=prefill_j / max(prompt_len, 1),
        decode_j_per_token=decode_j, j_per_answer=per_answer, tokens_per_j=1.0 / decode_j if decode_j else 0.0,
        co2e_g_per_answer=co2e(per_answer, grid_g_per_kwh))


def co2e(joules: float, grid_g_per_kwh: float | None) -> float | None:
    return None if grid_g_per_kwh is None else joules / 3.6e6 * grid_g_per_kwh


def from_windows(prefill_j: tuple[float, ...], decode_j: tuple[float, ...], prompt_len: int, gen_len: int,
                 method: str, source: str, grid_g_per_kwh: float | None = None, meaningful: bool = True,
                 warnings: tuple[str, ...] = ()) -> EnergyReport:
    """Measured energy per run from a power trace, already split at the first token (power_trace.integrate_runs)."""
    runs = max(len(prefill_j), 1)
    prefill, decode = sum(prefill_j) / runs, sum(decode_j) / runs
    per_token = decode / max(gen_len, 1)
    return EnergyReport(
        kind="measured", method=method, source=source, prefill_j_per_token=prefill / max(prompt_len, 1),
        decode_j_per_token=per_token, j_per_answer=prefill + decode,
        tokens_per_j=1.0 / per_token if per_token > 0 else 0.0,
        co2e_g_per_answer=co2e(prefill + decode, grid_g_per_kwh), meaningful=meaningful, warnings=tuple(warnings))
