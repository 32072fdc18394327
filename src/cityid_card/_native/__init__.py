"""The C verifier engine (built from the C sources in this folder, when it can be).

Importing this package raises ImportError when the extension is not built; the
verifier then uses its pure-Python twin (``cityid_card.verifier``).
"""

from ._native import Engine, signature_backend, verify_signature

__all__ = ["Engine", "signature_backend", "verify_signature"]
