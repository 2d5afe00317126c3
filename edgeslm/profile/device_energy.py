"""Which energy a device profile reports, in order of preference -- each labelled with its kind and method:

1. an external capture (--power-csv / --perfetto): measured, the most direct;
2. Android's battery gauge (the runner's own samples, else the shell sampler's): measured, whole phone;
3. the target's power figure x the measured busy time: estimated, and the reason no measurement was possible.
"""

from __future__ import annotations

from dataclasses import replace

from edgeslm.errors import UserError
from edgeslm.profile import energy
from edgeslm.profile.battery import ChargeState
from edgeslm.profile.device import DeviceSpec, estimated_energy


def load_capture(spec):
    """The --power-csv / --perfetto capture of a DeviceSpec or ProfileSpec-like object, or None."""
    from edgeslm.profile.power_import import read_perfetto, read_power_csv

    if spec.power_csv is not None:
        return read_power_csv(spec.power_csv, spec.power_t0)
    if spec.perfetto is not None:
        return read_perfetto(spec.perfetto)
    return None


def energy_for(metrics: dict, spec: DeviceSpec, samples_text: str | None = None, charge: ChargeState | None = None,
               idle: tuple[float, float] | None = None, log=print) -> energy.EnergyReport:
    from edgeslm.profile.power_import import device_energy

    capture = load_capture(spec)
    if capture is not None:
        return device_energy(capture, metrics, idle, spec.grid_g_per_kwh)
    has_samples = bool(samples_text and samples_text.strip()) or bool(metrics.get("battery", {}).get("samples"))
    why = "iOS exposes no battery current to apps" if spec.target == "ios" else "no battery samples were recorded"
    if spec.target == "android" and has_samples:
        from edgeslm.profile.android import battery_energy

        try:
            report = battery_energy(metrics, samples_text, charge, idle, spec)
        except UserError as exc:  # an unusable gauge: said on the console and in the report's source
            log(f"WARNING: no battery energy ({exc.message}); energy is estimated")
            why = f"battery gauge unusable: {exc.message}"
        else:
            if charge is None:
                report = replace(report, warnings=(
                    *report.warnings, "the charging state during the run is unknown (metrics imported with "
                    "--from-metrics): if a cable was plugged in, the gauge measured the charger too"))
            return report
    return estimated_energy(metrics, spec.target, f"{why}; pass --power-csv or --perfetto for a measurement",
                            spec.grid_g_per_kwh)


def profile_from_metrics(spec: DeviceSpec, metrics_path, log=print) -> dict:
    """`profile BUNDLE --target T --from-metrics FILE`: a metrics JSON pulled by hand (or by the demo app)."""
    from edgeslm.profile.device import build_profile, check_bundle
    from edgeslm.profile.metrics_schema import load_metrics

    manifest = check_bundle(spec.bundle, spec.target)
    metrics = load_metrics(metrics_path)
    if metrics["device"]["os"] != spec.target:
        raise UserError(f"the metrics in {metrics_path} come from an {metrics['device']['os']} device, not "
                        f"{spec.target}", hint=f"Pass --target {metrics['device']['os']}.")
    return build_profile(metrics, manifest, energy_for(metrics, spec, log=log))
