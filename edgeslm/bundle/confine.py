"""A model file inside a bundle may only refer to files inside the bundle: ONNX external-data locations are
checked before onnxruntime opens them (a location such as ../../etc/shadow or /dev/zero is refused)."""

from __future__ import annotations

from pathlib import Path

from edgeslm.bundle.layout import confined
from edgeslm.errors import UserError


def onnx_external_locations(path: Path) -> list[str]:
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise UserError(f"{path.name} is not a valid ONNX model ({type(exc).__name__})", hint="Re-export the bundle.") \
            from None
    locations = []
    for tensor in _get_all_tensors(model):
        if uses_external_data(tensor):
            entry = {e.key: e.value for e in tensor.external_data}
            locations.append(entry.get("location", ""))
    return locations


def require_confined_model(folder: Path, manifest: dict) -> None:
    folder = Path(folder)
    for record in manifest.get("files", []):
        if record["name"].endswith(".onnx"):
            model = confined(folder, record["name"])
            for location in sorted(set(onnx_external_locations(model))):
                base = model.parent.relative_to(folder).as_posix()
                confined(folder, location if base == "." else f"{base}/{location}", what="ONNX external-data file")
