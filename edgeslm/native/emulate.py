"""Run the linux-arm64 build of edgeslm-runner on this x86_64 host under qemu user-mode emulation.

`qemu-aarch64 -cpu cortex-a76 -L SYSROOT` with SYSROOT = the cross toolchain's /usr/aarch64-linux-gnu (glibc,
libstdc++ from libstdc++6-arm64-cross) plus a fake proc/cpuinfo of a Cortex-A76: Debian bookworm's qemu 7.2
passes the host's x86 /proc/cpuinfo through, and ONNX Runtime's cpuinfo library crashes parsing it at start-up.
ONNX Runtime then picks its arm64 kernels (NEON, dot-product MatMulNBits) as it would on a phone of that core.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgeslm.errors import UserError
from edgeslm.native.ort_dist import cache_root

CROSS_ROOT = Path("/usr/aarch64-linux-gnu")
CPU = "cortex-a76"
# What the kernel of a Cortex-A76 (Armv8.2-A with dot product) shows: part 0xd0b, asimddp.
CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1

"""
HINT = "Install them: `apt-get install qemu-user g++-aarch64-linux-gnu` (Debian/Ubuntu)."


def sysroot() -> Path:
    if not (CROSS_ROOT / "lib" / "ld-linux-aarch64.so.1").is_file():
        raise UserError(f"no arm64 C library at {CROSS_ROOT} (the cross toolchain's sysroot)", hint=HINT)
    root = cache_root() / "arm64-sysroot"
    (root / "proc").mkdir(parents=True, exist_ok=True)
    if not (root / "lib").exists():
        (root / "lib").symlink_to(CROSS_ROOT / "lib")
    cpuinfo = root / "proc" / "cpuinfo"
    if not cpuinfo.is_file() or cpuinfo.read_text() != CPUINFO:
        cpuinfo.write_text(CPUINFO)
    return root


def qemu_prefix() -> list[str]:
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if qemu is None:
        raise UserError("`qemu-aarch64` is not installed: emulating the arm64 runner needs it", hint=HINT)
    return [qemu, "-cpu", CPU, "-L", str(sysroot())]
