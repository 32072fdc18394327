"""The errors of cityid-card's core, and the rule every other error follows.

Every failure the library reports is a subclass of :class:`CityIDError`. What lives here:

- :class:`CredentialError` and its family, one subclass per reason a credential is
  rejected, so callers branch on the type. Messages describe what was wrong with the
  *encoding* or the *policy*; they never contain the holder's name, date of birth or
  other claim values, so they are safe to log.
- The core's own failures: :class:`InvalidKey` (and :class:`KeyOutsideValidity`,
  :class:`PassphraseRequired`, :class:`WrongPassphrase`), :class:`InputError` (and
  :class:`JSONInputError`), :class:`TrustStoreError`, :class:`StatusListError`, and
  :class:`MissingExtra` for an optional part used without its extra installed.

**The rule for the rest: a medium's errors live with the medium.** A package or module
that talks to a medium (a token, a card, a tag, a card face, a batch) defines its
errors in itself, and nowhere else:

1. One module per medium holds them: ``cityid_card.media.errors`` (the failure kinds
   every medium shares: ``MediumError``, ``NoReader``, ``Removed``, ``Blank``,
   ``NotAuthentic`` ...), ``cityid_card.iso7816.errors`` (cards),
   ``cityid_card.type2.errors`` (tags), ``cityid_card.pkcs11_uri`` (tokens: the part of
   the token code importable without python-pkcs11), ``cityid_card.qr``
   (``QRCodeError``), ``cityid_card.station.errors`` (batches). The medium's
   public modules re-export them (``hsm`` re-exports the token errors). Where code
   that never loads the medium's optional dependency must still catch its errors (a
   ``--key`` may be a token URI on a station without python-pkcs11), they are defined
   in a module that imports without it: the token errors live in ``pkcs11_uri``, not
   in ``hsm``; :class:`FaceError` stays in this module until face.py loads its extra
   lazily (the station catches it without the ``face`` extra; ``cityid_card.face``
   re-exports it). Using a medium whose extra is missing raises :class:`MissingExtra`.
2. Single inheritance: each error has exactly one base in the ``CityIDError`` family
   (the medium's base, or a core error when it is one: a token error is an
   ``InvalidKey``); a builtin beside it is allowed (``JSONInputError`` is also a
   ``ValueError``). No diamonds; the one exception is rule 3's ``NotAuthentic``. When
   one failure happens on several media (a card or a tag removed mid-write), it is one
   class whose instances say which: a ``medium`` attribute (``"card"``, ``"tag"``), not
   one subclass per medium with two bases.
3. A failure that means "reject this credential" (a clone failing chip
   authentication) is a :class:`CredentialError` subclass carrying the medium, so
   ``except CredentialError`` keeps rejecting it.
4. The top level (``cityid_card/__init__.py``) exports only the credential API and the
   core errors listed above; media errors are imported from their package.
5. A test (``tests/test_package.py``) checks rules 2 and 4 for every module, and that
   no module imports another that imports it back (deferred imports count too).
"""

from __future__ import annotations


class CityIDError(Exception):
    """Base class of every error raised by cityid-card."""


class CredentialError(CityIDError):
    """The credential cannot be accepted; the subclass says why."""


class MalformedCredential(CredentialError):
    """The bytes are not the one canonical encoding of a credential."""


class UnsupportedAlgorithm(CredentialError):
    """The protected header names an algorithm other than ES256 or EdDSA."""


class UnsupportedVersion(CredentialError):
    """The claims carry a format version this library does not implement."""


class ClaimError(CredentialError):
    """A claim breaks the closed schema."""


class UnknownClaim(ClaimError):
    """A claim the format does not define (an address, a phone number, ...)."""


class InvalidClaim(ClaimError):
    """A defined claim has a value outside what the format allows."""


class UnknownIssuer(CredentialError):
    """No key in the trust store matches the credential's key id and algorithm."""


class KeyNotValid(CredentialError):
    """The signing key was not valid on the credential's issue date."""


class BadSignature(CredentialError):
    """The signature does not verify under the issuer key."""


class NotYetValid(CredentialError):
    """The credential's issue date is after the verification date."""


class Expired(CredentialError):
    """The credential's expiry date is before the verification date."""


class Revoked(CredentialError):
    """The issuer's current status list marks the credential as revoked."""


class Suspended(Revoked):
    """The issuer's current status list marks the credential as suspended."""


class StatusUnknown(CredentialError):
    """No current status list covers the credential and the policy requires one."""


class InvalidKey(CityIDError):
    """A key file or key description cannot be used (format, curve, password)."""


class KeyOutsideValidity(InvalidKey):
    """The issuer key may not sign on this issue date: it is outside the key's window.

    Raised when issuing (spec section 9: an issuer MUST NOT sign outside the window),
    before anything is signed; a verifier reports such a credential as KeyNotValid.
    """


class PassphraseRequired(InvalidKey):
    """The key file is encrypted and no passphrase was given."""


class WrongPassphrase(InvalidKey):
    """The passphrase given does not open the encrypted key file."""


class InputError(CityIDError):
    """A file or text given to cityid-card cannot be used as it is.

    Missing, unreadable, already there (the command line replaces a file only with
    --force), too large, or not the kind of file expected. The message names the file
    and the problem, never the file's content.
    """


class JSONInputError(InputError, ValueError):
    """A JSON document is not valid JSON, or is past the reader's limits.

    The limits (size, nesting depth, digits of an integer) keep a hostile file from
    exhausting the stack or the CPU; duplicate keys are refused as ambiguous. A
    ValueError too, like json.JSONDecodeError, so code that caught that catches this.
    """


class TrustStoreError(CityIDError):
    """A trust store file cannot be read or holds an unusable entry."""


class StatusListError(CityIDError):
    """A status list or status registry cannot be read, verified or changed as asked."""


class FaceError(CityIDError):
    """A card face cannot be rendered as asked: a character the font cannot show, a bad photo.

    Messages name the field (``name``, ``gender``), never its value. Defined here, not in
    :mod:`cityid_card.face` (which re-exports it), because face.py needs the ``face``
    extra to import, and the station catches FaceError without it (rule 1 below).
    """


class MissingExtra(CityIDError):
    """An optional part of cityid-card is used, but its extra is not installed.

    ``extra`` is the name to install (``pip install 'cityid-card[EXTRA]'``); the message
    says which part needs it.
    """

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what}: pip install 'cityid-card[{extra}]'")
        self.extra = extra
