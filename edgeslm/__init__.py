"""edgeslm: put small healthcare language models on phones, verified against the full-precision model."""

__version__ = "0.1.0"
