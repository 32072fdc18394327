"""The C verifier engine and EC point arithmetic (built from the C sources in this folder).

Importing this package raises ImportError when the extension is not built; the
verifier then uses its pure-Python twin (``cityid_card.verifier``) and the PACE point
arithmetic pycryptodome's (``cityid_card.eac.curve``).
"""

from ._native import Engine, ec_add, ec_mul_add, signature_backend, verify_signature

__all__ = ["Engine", "ec_add", "ec_mul_add", "signature_backend", "verify_signature"]
