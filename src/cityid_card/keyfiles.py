"""Issuer keys from where they are kept: key files, PIN files and the environment.

The edge of :mod:`cityid_card.keys` (bytes in, bytes out) and :mod:`cityid_card.hsm`
(no file, no environment): this module does their I/O, so they stay sans-I/O.

:func:`load_key` takes what a ``--key`` option takes: the path of a PKCS#8 PEM file, or
a ``pkcs11:`` key URI (RFC 7512). For a URI the PIN is the first of: the ``passphrase``
argument, the URI's ``pin-value``, its ``pin-source`` (a ``file:`` URI or path of a
file whose first line is the PIN), the environment variable ``CITYID_CARD_PKCS11_PIN``;
the PKCS#11 module is the URI's ``module-path``, else ``CITYID_CARD_PKCS11_MODULE``,
else SoftHSM2's. :func:`save_key` writes a key file readable by its owner only, and
never replaces one unless told to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ._files import write_atomically
from .keys import IssuerKey
from .pkcs11_uri import KeyUri, TokenError, TokenPinError, is_key_uri

__all__ = [
    "MODULE_ENV",
    "PIN_ENV",
    "load_key",
    "read_secret_file",
    "save_key",
    "token_module",
    "token_pin",
]

#: Environment variable naming the PKCS#11 module when the URI has no module-path.
MODULE_ENV = "CITYID_CARD_PKCS11_MODULE"
#: Environment variable holding the token PIN when neither the caller nor the URI gives one.
PIN_ENV = "CITYID_CARD_PKCS11_PIN"
# A passphrase or PIN file is one short line; more is a mistake (the wrong file).
_MAX_SECRET_FILE = 4096


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The first line of a passphrase or PIN file, without its line ending.

    Raises OSError when the file cannot be read.
    """
    with open(path, "rb") as file:
        data = file.read(_MAX_SECRET_FILE)
    lines = data.splitlines()
    return lines[0] if lines else b""


def token_pin(
    uri: KeyUri, pin: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The PIN for a key URI: ``pin``, pin-value, pin-source, else $CITYID_CARD_PKCS11_PIN."""
    if pin is not None:
        return pin
    if uri.pin_value is not None:
        return uri.pin_value
    if uri.pin_source is not None:
        return _read_pin_source(uri.pin_source)
    return (os.environ if environ is None else environ).get(PIN_ENV)


def token_module(
    module: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The PKCS#11 module: ``module`` (a URI's module-path), else $CITYID_CARD_PKCS11_MODULE.

    None means the default, SoftHSM2's (:data:`cityid_card.hsm.DEFAULT_MODULE`).
    """
    return module or (os.environ if environ is None else environ).get(MODULE_ENV) or None


def load_key(
    location: str | os.PathLike[str],
    passphrase: bytes | str | None = None,
    *,
    kid: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> IssuerKey:
    """The issuer key a PEM file path or a ``pkcs11:`` URI names.

    ``passphrase`` opens an encrypted key file, or is the token PIN for a URI (see the
    module's description for where else a PIN comes from). The kid and issuing window
    saved with the key come with it. A key in a token holds a session open: use the
    result as a context manager. Raises PassphraseRequired / WrongPassphrase for an
    encrypted file, TokenPinRequired when a token needs a PIN and none was found, other
    InvalidKey subclasses, and OSError when a file cannot be read.
    """
    text = os.fspath(location)
    if not is_key_uri(text):
        return IssuerKey.from_pem(Path(text).read_bytes(), passphrase, kid=kid)
    if isinstance(passphrase, bytes):
        try:
            passphrase = passphrase.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenPinError("the token PIN is not valid UTF-8") from None
    uri = KeyUri.parse(text)
    return IssuerKey.from_uri(
        text,
        pin=token_pin(uri, passphrase or None, environ=environ),
        module=token_module(uri.module_path, environ=environ),
        kid=kid,
    )


def save_key(
    key: IssuerKey,
    path: str | os.PathLike[str],
    passphrase: bytes | str | None = None,
    *,
    force: bool = False,
) -> None:
    """Write ``key`` as a PEM file readable by its owner only (0600), with its kid and window.

    Refuses with FileExistsError when ``path`` exists, unless ``force``: then the file is
    replaced atomically (never left half-written).
    """
    data = key.to_pem(passphrase)
    target = Path(path)
    if force:
        write_atomically(target, data, mode=0o600)
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _read_pin_source(source: str) -> str:
    """The first line of the file a pin-source names (a file: URI or a path)."""
    if source.startswith("file://"):
        path = source[len("file://") :]
        if not path.startswith("/"):
            raise TokenError("pin-source file: URIs must name a local absolute path")
    elif source.startswith("file:"):
        path = source[len("file:") :]
    elif ":" in source.split("/", 1)[0]:
        raise TokenError("pin-source must be a file: URI or a file path")
    else:
        path = source
    try:
        line = read_secret_file(path)
    except OSError as error:
        raise TokenPinError(f"cannot read the pin-source file: {error.strerror}") from None
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenPinError("the pin-source file does not hold a UTF-8 PIN") from None
