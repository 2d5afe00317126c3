"""The clinical gate: a shipped pack of medical exam questions, scored through a bundle's own runtime and the
float reference, judged by answer agreement and by how far the answer distribution moves (issue #14)."""
