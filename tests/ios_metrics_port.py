"""A Python port of ios_demo's DeviceMetrics formatter (DeviceMetrics.swift: `run` and `make`), key for key, so
the metrics JSON the app writes can be checked against edgeslm/profile/metrics_schema.py here, where Swift does
not run. tests/test_ios_demo.py checks that the port's keys are the Swift CodingKeys."""

from __future__ import annotations


def run(start_unix_s: float, end_unix_s: float, ttft_ms: float, prefill_ms: float, prompt_len: int,
        decode_ms: list[float]) -> dict:
    return {"start_unix_s": start_unix_s, "end_unix_s": end_unix_s, "ttft_ms": ttft_ms, "prefill_ms": prefill_ms,
            "prefill_tok_per_s": prompt_len / (prefill_ms / 1000),
            "decode_tok_per_s": len(decode_ms) / (sum(decode_ms) / 1000), "decode_ms": list(decode_ms)}


def make(device: dict, runtime: dict, settings: dict, load_ms: float, peak_rss_mb: float, runs: list[dict]) -> dict:
    return {"schema": "edgeslm-device-metrics", "schema_version": 1, "device": device, "runtime": runtime,
            "settings": settings, "load_ms": load_ms, "peak_rss_mb": peak_rss_mb, "runs": runs}


def device(model: str, soc: str, os: str, os_version: str) -> dict:
    return {"model": model, "soc": soc, "os": os, "os_version": os_version}


def settings(prompt_len: int, gen_len: int, runs: int, warmup: int, threads: int) -> dict:
    return {"prompt_len": prompt_len, "gen_len": gen_len, "runs": runs, "warmup": warmup, "threads": threads}
