"""The lowering check's reference for ExecuTorch computes what XNNPACK computes: one quantized linear, lowered and
run by ExecuTorch, against its PyTorch emulation (backends/executorch/xnnpack_arithmetic.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("executorch.exir", reason="executorch is not installed")


def _sqnr(got: torch.Tensor, want: torch.Tensor) -> float:
    return float(10 * np.log10((want ** 2).sum().item() / max(((got - want) ** 2).sum().item(), 1e-30)))


@pytest.mark.parametrize("quant", ["int4", "int8"])
def test_one_quantized_linear_matches_xnnpack(quant):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from executorch.extension.pybindings.portable_lib import _load_for_executorch_from_buffer
    from torchao.quantization import quantize_

    from edgeslm.backends.executorch.quantize import linear_config
    from edgeslm.backends.executorch.xnnpack_arithmetic import XnnpackQD8Linear
    from edgeslm.quant import get_scheme

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 64, bias=True)).eval()
    quantize_(model, linear_config(get_scheme(quant)))
    x = torch.randn(1, 8, 256) * 3
    program = to_edge_transform_and_lower(torch.export.export(model, (x,)),
                                          partitioner=[XnnpackPartitioner()]).to_executorch()
    shipped = _load_for_executorch_from_buffer(program.buffer).forward((x,))[0]
    emulated = XnnpackQD8Linear(model[0])(x)
    assert _sqnr(emulated, shipped) > 100  # float reassociation only (134 dB measured)
    if quant == "int4":
        # torchao's own emulation keeps the group scales in float32; XNNPACK stores them in bfloat16.
        assert _sqnr(model(x), shipped) < 70
