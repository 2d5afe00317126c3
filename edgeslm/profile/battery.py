"""Android battery-gauge energy: current_now x voltage_now sampled during the runs, less an idle baseline.

The kernel's power_supply ABI says current_now is in µA and voltage_now in µV, but devices differ: some
fuel-gauge drivers report mA (or mV), and the sign of a discharging current is negative on some (Pixel) and
positive on others (many Samsung). Units are inferred from magnitudes that no phone running a model can have
(a discharge below 10 mA written in µA would be ~0; a cell voltage is 3-4.5 V); the discharge sign is the sign of
most samples. A phone charging over USB measures the charger, not the model: the figure is then kept but marked
meaningless, loudly.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from edgeslm.errors import UserError
from edgeslm.profile.power_trace import PowerTrace

SYSFS = "/sys/class/power_supply/battery"
CURRENT_SCALE = {"uA": 1e-6, "mA": 1e-3, "A": 1.0}
VOLTAGE_SCALE = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}
CHARGING_HINT = ("Profile on battery: use wireless debugging (`adb pair` / `adb tcpip 5555` then `adb connect`), "
                 "then unplug the cable. `adb shell dumpsys battery unplug` only changes what Android reports; "
                 "the USB port may still charge the battery (`dumpsys battery reset` undoes it).")


@dataclass(frozen=True)
class Sample:
    t_s: float
    current: float  # as read, in `current_unit`
    voltage: float  # as read, in `voltage_unit`


@dataclass(frozen=True)
class ChargeState:
    powered_by: tuple[str, ...]  # ("USB",), ("AC",), ... empty when on battery
    status_charging: bool  # dumpsys `status: 2` (BatteryManager.BATTERY_STATUS_CHARGING)
    updates_stopped: bool  # `dumpsys battery unplug` / `set` in force: the reported state is faked

    @property
    def charging(self) -> bool:
        return bool(self.powered_by) or self.status_charging


def parse_dumpsys_battery(text: str) -> ChargeState:
    """`adb shell dumpsys battery` -> which supplies power the phone, and whether it says it is charging."""
    if "powered:" not in text:
        raise UserError("`dumpsys battery` printed no power-source lines", hint="Is this an Android device?",
                        details={"output": text[-400:]})
    powered = tuple(m.group(1) for m in re.finditer(r"^\s*(\w+) powered:\s*true\s*$", text, re.M | re.I))
    status = re.search(r"^\s*status:\s*(\d+)\s*$", text, re.M)
    return ChargeState(powered_by=powered, status_charging=bool(status and status.group(1) == "2"),
                       updates_stopped="UPDATES STOPPED" in text)


def infer_units(samples: list[Sample]) -> tuple[str, str]:
    """(current_unit, voltage_unit) from magnitudes; the ABI's µA/µV unless the numbers cannot be."""
    if not samples:
        raise UserError("no battery samples were recorded", hint="Check that the sampler could read " + SYSFS)
    amps = statistics.median(abs(s.current) for s in samples)
    volts = statistics.median(s.voltage for s in samples)
    # A phone draws 50 mA..5 A: below 10_000 the figure is not µA (it would be < 10 mA), so it is mA; below 20,
    # amperes. A Li-ion cell sits at 3.0-4.5 V: µV ~ 4e6, mV ~ 4e3, V ~ 4.
    current_unit = "uA" if amps >= 10_000 else "mA" if amps >= 20 else "A"
    voltage_unit = "uV" if volts >= 100_000 else "mV" if volts >= 100 else "V"
    return current_unit, voltage_unit


def discharge_sign(samples: list[Sample]) -> int:
    """+1 if discharging currents are written positive on this device, -1 if negative (most samples decide)."""
    positive = sum(1 for s in samples if s.current > 0)
    negative = sum(1 for s in samples if s.current < 0)
    if positive == negative == 0:
        raise UserError("every battery current sample is 0: this device's gauge does not report current_now",
                        hint="Use an external power monitor (--power-csv) or a Perfetto power-rail trace (--perfetto).")
    return 1 if positive >= negative else -1


def to_trace(samples: list[Sample], current_unit: str | None = None,
             voltage_unit: str | None = None) -> tuple[PowerTrace, list[str]]:
    """Discharge power in watts over time; notes say which units and sign were used and why."""
    guessed = infer_units(samples)
    current_unit, voltage_unit = current_unit or guessed[0], voltage_unit or guessed[1]
    sign = discharge_sign(samples)
    notes = [f"current in {current_unit}, voltage in {voltage_unit}, discharge written "
             f"{'positive' if sign > 0 else 'negative'} on this device"]
    minority = sum(1 for s in samples if s.current * sign < 0)
    if minority:
        notes.append(f"{minority} of {len(samples)} samples have the charging sign (the battery was charged "
                     "at those moments): they count as negative draw")
    ordered = sorted(samples, key=lambda s: s.t_s)
    watts = [sign * s.current * CURRENT_SCALE[current_unit] * s.voltage * VOLTAGE_SCALE[voltage_unit]
             for s in ordered]
    return PowerTrace(tuple(s.t_s for s in ordered), tuple(watts)), notes


def parse_sampler_output(text: str) -> list[Sample]:
    """Lines `UNIX_SECONDS.NANOS CURRENT VOLTAGE` written by the on-device sampler (android.SAMPLER_SCRIPT)."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            t, current, voltage = float(parts[0]), float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise UserError(f"battery sampler line {number} is not `time current voltage`: {line!r}",
                            hint=f"The device must let the shell read {SYSFS}/current_now and voltage_now, and "
                                 "its `date` must support +%s.%N.") from None
        samples.append(Sample(t, current, voltage))
    return samples


def from_metrics(battery: dict) -> tuple[list[Sample], str, str]:
    """The runner's own samples (metrics JSON `battery`), with the units it declared."""
    samples = [Sample(s["t_unix_s"], s["current"], s["voltage"]) for s in battery["samples"]]
    return samples, battery["current_unit"], battery["voltage_unit"]
