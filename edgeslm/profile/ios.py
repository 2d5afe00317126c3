"""`edgeslm profile BUNDLE --target ios [--serial ID]`: measure on an iPhone over `xcrun devicectl` (Xcode 15+).

The ios_demo app (bundle id --app-bundle-id, default org.edgeslm.demo) must be installed on the phone and have
its benchmark mode. Steps, each a real devicectl command (see `Devicectl`):
  1. `xcrun devicectl list devices --json-output FILE`: pick the device (--serial = identifier, UDID or name).
     With --ios-app PATH.app: `xcrun devicectl device install app --device ID PATH.app` first.
  2. `xcrun devicectl device copy to --device ID --domain-type appDataContainer --domain-identifier APP
      --source BUNDLE --destination Documents/edgeslm/<name>`
  3. `xcrun devicectl device process launch --device ID --console --terminate-existing APP --
      --benchmark --bundle Documents/edgeslm/<name> --prompt-len N --gen-len N --runs N --warmup N
      --threads N --output Documents/edgeslm/<name>.metrics.json`   (the app's exit status is the command's)
  4. `xcrun devicectl device copy from ... --source Documents/edgeslm/<name>.metrics.json --destination FILE`
The metrics file is metrics_schema's. iOS gives apps no battery current; energy is estimated (labelled so)
unless --power-csv / --perfetto brings a measurement.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgeslm.errors import UserError
from edgeslm.profile.device import (DeviceSpec, build_profile, check_bundle, check_lengths, check_settings,
                                    run_tool)
from edgeslm.profile.device_choice import choose_one
from edgeslm.profile.metrics_schema import load_metrics

REMOTE_ROOT = "Documents/edgeslm"
XCODE_HINT = "Install Xcode 15 or newer (it ships `xcrun devicectl`) and run `sudo xcode-select -s /Applications/Xcode.app`."


@dataclass(frozen=True)
class IosDevice:
    identifier: str  # devicectl's CoreDevice identifier (what --device takes)
    udid: str
    name: str
    model: str  # marketing name, e.g. "iPhone 15"
    os_version: str
    paired: bool
    connected: bool  # a tunnel is up (or can be brought up): commands can reach it


def parse_device_list(data: dict) -> list[IosDevice]:
    """The JSON written by `xcrun devicectl list devices --json-output FILE` -> physical iOS devices."""
    try:
        devices = data["result"]["devices"]
    except (KeyError, TypeError):
        raise UserError("`devicectl list devices` wrote JSON without result.devices",
                        hint="Update Xcode; edgeslm reads the devicectl JSON of Xcode 15 and newer.") from None
    out = []
    for d in devices:
        hw, props, conn = d.get("hardwareProperties", {}), d.get("deviceProperties", {}), d.get("connectionProperties", {})
        if hw.get("platform") != "iOS" or hw.get("reality", "physical") != "physical":
            continue
        out.append(IosDevice(
            identifier=d.get("identifier", ""), udid=hw.get("udid", ""), name=props.get("name", "?"),
            model=hw.get("marketingName") or hw.get("productType", "?"),
            os_version=props.get("osVersionNumber", "?"), paired=conn.get("pairingState") == "paired",
            connected=conn.get("tunnelState") in ("connected", "disconnected")))  # "unavailable": not reachable
    return out


def choose_device(devices: list[IosDevice], serial: str | None) -> IosDevice:
    device = choose_one(
        devices, serial, matches=lambda d, s: s in (d.identifier, d.udid, d.name),
        label=lambda d: f"{d.name} ({d.identifier})", noun="iOS device",
        unknown_hint="Run `xcrun devicectl list devices` and pass an identifier, UDID or name.",
        many_hint="Pick one with --serial ID.",
        none=UserError("no iPhone is known to devicectl", hint="Connect the phone by USB, unlock it, trust this "
                       "Mac, and enable Developer Mode (Settings > Privacy & Security)."))
    if not device.paired:
        raise UserError(f"{device.name} is not paired with this Mac",
                        hint="Unlock it and accept 'Trust This Computer', or pair it in Xcode > Devices.")
    if not device.connected:
        raise UserError(f"{device.name} is paired but not reachable now",
                        hint="Connect it by USB or put it on the same network, unlocked.")
    return device


class Devicectl:
    def __init__(self, xcrun: str, device: str, app: str):
        self.xcrun, self.device, self.app = xcrun, device, app

    def install(self, app: Path) -> list[str]:
        return [self.xcrun, "devicectl", "device", "install", "app", "--device", self.device, str(app)]

    def copy_to(self, local: Path, remote: str) -> list[str]:
        return [self.xcrun, "devicectl", "device", "copy", "to", "--device", self.device, "--domain-type",
                "appDataContainer", "--domain-identifier", self.app, "--source", str(local), "--destination", remote]

    def copy_from(self, remote: str, local: Path) -> list[str]:
        return [self.xcrun, "devicectl", "device", "copy", "from", "--device", self.device, "--domain-type",
                "appDataContainer", "--domain-identifier", self.app, "--source", remote, "--destination", str(local)]

    def launch(self, spec: DeviceSpec, remote_bundle: str, remote_output: str) -> list[str]:
        return [self.xcrun, "devicectl", "device", "process", "launch", "--device", self.device, "--console",
                "--terminate-existing", self.app, "--", "--benchmark", "--bundle", remote_bundle,
                "--prompt-len", str(spec.prompt_len), "--gen-len", str(spec.gen_len), "--runs", str(spec.runs),
                "--warmup", str(spec.warmup), "--threads", str(spec.threads), "--output", remote_output]


def list_argv(xcrun: str, json_out: Path) -> list[str]:
    return [xcrun, "devicectl", "list", "devices", "--json-output", str(json_out)]


def find_xcrun(system: str | None = None) -> str:
    system = system or platform.system()
    if system != "Darwin":
        raise UserError(f"profiling on an iPhone needs a Mac with Xcode; this is {system}",
                        hint="Run `edgeslm profile --target ios` on macOS, or profile the bundle on the host "
                             "(no --target) here.")
    exe = shutil.which("xcrun")
    if exe is None:
        raise UserError("`xcrun` is not on PATH", hint=XCODE_HINT)
    return exe


def profile_on_ios(spec: DeviceSpec, log=print) -> dict:
    manifest = check_bundle(spec.bundle, "ios")
    check_lengths(spec, manifest)
    xcrun = find_xcrun()
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "devices.json"
        run_tool(list_argv(xcrun, listing), "listing iOS devices", XCODE_HINT)
        try:
            data = json.loads(listing.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"devicectl wrote no readable device list ({exc})", hint=XCODE_HINT) from None
        device = choose_device(parse_device_list(data), spec.serial)
        ctl = Devicectl(xcrun, device.identifier, spec.app_bundle_id)
        remote_bundle = f"{REMOTE_ROOT}/{spec.bundle.resolve().name}"
        remote_output = f"{remote_bundle}.metrics.json"
        app_hint = (f"Install the ios_demo app ({spec.app_bundle_id}) on {device.name} from Xcode, or pass its "
                    "bundle id with --app-bundle-id.")
        if spec.ios_app is not None:
            log(f"installing {spec.ios_app} on {device.name}")
            run_tool(ctl.install(spec.ios_app), "installing the ios_demo app", "Build it for a device (not the "
                     "simulator) and sign it with a team this iPhone trusts.", 600)
        log(f"copying {spec.bundle} into {spec.app_bundle_id}'s container on {device.name}")
        run_tool(ctl.copy_to(spec.bundle.resolve(), remote_bundle), "copying the bundle to the phone", app_hint, 1800)
        log(f"running {spec.warmup} warm-up + {spec.runs} runs on {device.name}")
        proc = subprocess.run(ctl.launch(spec, remote_bundle, remote_output), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-1200:]
            raise UserError(f"the benchmark run in {spec.app_bundle_id} failed (exit {proc.returncode}); its output "
                            f"ends:\n{tail}", hint=app_hint, details={"stderr_tail": tail})
        local = Path(tmp) / "metrics.json"
        run_tool(ctl.copy_from(remote_output, local), "copying the metrics back", app_hint)
        metrics = load_metrics(local)
    check_settings(metrics, spec)
    from edgeslm.profile.device_energy import energy_for

    profile = build_profile(metrics, manifest, energy_for(metrics, spec, log=log))
    profile["device"]["identifier"] = device.identifier
    return profile
