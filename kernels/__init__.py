"""Fused attention kernels, one module per backend, and the plain-PyTorch reference they are tested against.

Shipped as ``edgeslm.kernels`` (see pyproject's package-dir): a top-level ``kernels`` package would clash
with the PyPI package of that name.
"""
