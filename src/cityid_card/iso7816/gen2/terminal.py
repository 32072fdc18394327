"""The terminal session with a generation-2 card, sans I/O: what a role is entitled to.

``disclose(connection, access, can, today=..., trust=...)`` runs, over whatever
connection it is handed: EF.CardAccess, PACE with the CAN, then through the secure
messaging processor (:mod:`.channel`) Terminal Authentication with the terminal's
chain, the card security object, Chip Authentication, and the role's Restricted
Identification, predicates and reads. It returns a :class:`Disclosure`: exactly the
fields the terminal's certificates grant, nothing else.

A :class:`Disclosure` is the generation-2 counterpart of the seam's
:class:`~cityid_card.media.Verification`: the same ``authenticity`` and ``facts``, and,
instead of a whole signed credential, the granted fields (a field the role may not
learn is None, and :meth:`Disclosure.as_json` leaves it out).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import P256, ca, commands, cvc, pace, ri, ta
from cityid_card.eac.cvc import Rights
from cityid_card.eac.errors import AuthenticationFailed, EacError
from cityid_card.eac.security_infos import CardAccess
from cityid_card.eac.sm import Apdu, encode_apdu
from cityid_card.iso7816.errors import CardProtocolError
from cityid_card.media import Authenticity, Facts
from cityid_card.trust import TrustStore

from .channel import ByteProcessor, LinkProcessor, SecureMessagingProcessor
from .constants import SFI_CARD_ACCESS, SFI_CARD_SECURITY, SW2, DataGroup
from .datagroups import decode_data_group
from .errors import AccessRefused, NotGeneration2, SecurityObjectInvalid, TerminalRefused, WrongCan
from .security import parse_card_security

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = [
    "Disclosure",
    "TerminalAccess",
    "age_date",
    "disclose",
    "is_generation_2",
    "pace_with_can",
    "read_card_access",
    "terminal_authentication",
]

_PACE_OID = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class TerminalAccess:
    """What a terminal holds: its role, its chain and key, its sector key, its age."""

    role: str
    dv_certificate: bytes = field(repr=False)
    terminal_certificate: bytes = field(repr=False)
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    #: The sector public key of the role's pseudonyms (roles with RI only).
    sector_public_key: bytes | None = field(default=None, repr=False)
    #: The age an age-check terminal asks about.
    age: int | None = None
    #: CVCA link certificates, oldest first, for cards that missed a rollover.
    link_certificates: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def rights(self) -> Rights:
        """The rights of the chain: the DV's and the terminal's, ANDed."""
        dv = cvc.parse_certificate(self.dv_certificate)
        terminal = cvc.parse_certificate(self.terminal_certificate)
        return Rights(dv.body.chat.rights & terminal.body.chat.rights)


@dataclass(frozen=True)
class Disclosure:
    """What a generation-2 card told one terminal: its role's fields, and the checks.

    Personal fields are None when the role may not learn them; repr shows none of them.
    """

    role: str
    #: The card is genuine (Chip Authentication under the issuer-signed card security
    #: object) and, where the role may know it, valid on the date (predicate or expiry).
    valid: bool
    authenticity: Authenticity
    facts: Facts
    #: The trusted issuer key that signed the card security object; None: not checked.
    issuer: str | None
    today: date
    name: str | None = field(default=None, repr=False)
    date_of_birth: date | None = field(default=None, repr=False)
    gender: str | None = field(default=None, repr=False)
    expires: date | None = field(default=None, repr=False)
    pseudonym: bytes | None = field(default=None, repr=False)
    #: The age asked about, and the card's one-bit answer.
    age: int | None = None
    age_over: bool | None = field(default=None, repr=False)
    #: The validity predicate's one-bit answer (roles with the validity right).
    valid_on_date: bool | None = field(default=None, repr=False)
    granted: frozenset[str] = frozenset()
    bytes_sent: int = 0
    bytes_received: int = 0

    def as_json(self) -> dict[str, Any]:
        """The granted keys among ``name``, ``date_of_birth``, ``gender``, ``expires``,
        ``pseudonym`` (hex), ``age_over_N``, and ``valid``."""
        result: dict[str, Any] = {}
        if "name" in self.granted:
            result["name"] = self.name
        if "date_of_birth" in self.granted:
            result["date_of_birth"] = _iso(self.date_of_birth)
        if "gender" in self.granted:
            result["gender"] = self.gender
        if "expires" in self.granted:
            result["expires"] = _iso(self.expires)
        if "pseudonym" in self.granted:
            result["pseudonym"] = None if self.pseudonym is None else self.pseudonym.hex()
        if "age" in self.granted:
            result[f"age_over_{self.age}"] = self.age_over
        result["valid"] = self.valid
        return result


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def age_date(today: date, age: int) -> date:
    """The latest date of birth of someone ``age`` years old on ``today``."""
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February, ``age`` years back is a common year
        return date(today.year - age, 2, 28)


def _read_binary(sfi: int) -> bytes:
    return encode_apdu(Apdu(0x00, 0xB0, 0x80 | sfi, 0x00, ne=256))


def read_card_access(link: ByteProcessor) -> CardAccess:
    """READ BINARY EF.CardAccess without authentication; NotGeneration2 if there is none."""
    data, sw = link.send(_read_binary(SFI_CARD_ACCESS))
    if sw in (SW2.SM_MISSING, SW2.SM_INCORRECT):
        # A secure channel of an earlier terminal was still open (the reader did not
        # reset the card): the card has just closed it. Ask again.
        data, sw = link.send(_read_binary(SFI_CARD_ACCESS))
    if sw != SW2.OK:
        raise NotGeneration2(f"the card has no EF.CardAccess (READ BINARY answered {sw:04X})")
    try:
        return CardAccess.decode(data)
    except EacError:
        raise NotGeneration2("the card's EF.CardAccess is not this profile's") from None


def is_generation_2(connection: Connection) -> bool:
    """Whether the card answers as a generation-2 card (its EF.CardAccess); 1 or 2 APDUs."""
    try:
        read_card_access(LinkProcessor(connection))
    except NotGeneration2:
        return False
    return True


def _scalar(rng: Rng) -> int:
    return 1 + int.from_bytes(rng(40), "big") % (P256.n - 1)


def pace_with_can(link: ByteProcessor, can: str, rng: Rng) -> tuple[pace.SessionKeys, bytes]:
    """PACE with the CAN over ``link`` (5 APDUs): the session keys and the card's
    ephemeral public key (its ``Comp`` is ``ID_PICC`` of TA). Raises WrongCan when the
    card refuses, CardProtocolError when its answers are malformed."""
    ga = pace.dynamic_authentication_data

    def step(apdu: bytes, tag: int | None) -> bytes:
        data, sw = link.send(apdu)
        if sw != SW2.OK:
            raise WrongCan(
                "PACE failed: the CAN is wrong, or the card refuses PACE for now "
                "(it slows down guessing)"
            )
        if tag is None:
            return b""
        try:
            return pace.parse_dynamic_authentication_data(data, (tag,))[tag]
        except EacError:
            raise CardProtocolError("the card's PACE answer is malformed") from None

    try:
        step(commands.mse_set_at(commands.MSE_PACE, pace.mse_set_at(_PACE_OID)), None)
        encrypted = step(commands.general_authenticate(ga(), last=False), 0x80)
        nonce = pace.decrypt_nonce(can, encrypted)
        mapping = _scalar(rng)
        card_mapping = step(
            commands.general_authenticate(ga((0x81, P256.public_key(mapping))), last=False), 0x82
        )
        generator = pace.map_generator(P256, nonce, mapping, card_mapping)
        private = _scalar(rng)
        public = pace.public_key_on(P256, generator, private)
        card_public = step(commands.general_authenticate(ga((0x83, public)), last=False), 0x84)
        keys = pace.session_keys(pace.shared_secret(P256, private, public, card_public))
        token = pace.authentication_token(keys.mac, _PACE_OID, card_public)
        card_token = step(commands.general_authenticate(ga((0x85, token))), 0x86)
        pace.verify_authentication_token(keys.mac, _PACE_OID, public, card_token)
    except AuthenticationFailed:
        raise CardProtocolError("the card's PACE token does not verify") from None
    except EacError:
        raise CardProtocolError("the card's PACE answer is not a valid key") from None
    return keys, card_public


def _ok(sm: ByteProcessor, apdu: bytes, refused: Callable[[int], Exception]) -> bytes:
    data, sw = sm.send(apdu)
    if sw != SW2.OK:
        raise refused(sw)
    return data


def _terminal_refused(what: str) -> Callable[[int], Exception]:
    return lambda sw: TerminalRefused(f"the card refused {what} (status {sw:04X})")


def terminal_authentication(
    sm: ByteProcessor,
    access: TerminalAccess,
    card_public: bytes,
    aux: bytes,
    rng: Rng,
) -> tuple[int, bytes]:
    """TA v2: the chain (with link certificates if the card needs them), then the signature.

    Returns the ephemeral key pair for Chip Authentication.
    """
    dv = cvc.parse_certificate(access.dv_certificate)
    terminal = cvc.parse_certificate(access.terminal_certificate)
    _, sw = sm.send(commands.mse_set_dst(dv.body.car))
    if sw == SW2.REFERENCED_DATA_NOT_FOUND and access.link_certificates:
        for link in access.link_certificates:
            body = cvc.parse_certificate(link).body
            _, sw = sm.send(commands.mse_set_dst(body.car))
            if sw == SW2.OK:
                _ok(
                    sm,
                    commands.pso_verify_certificate(link),
                    _terminal_refused("a link certificate"),
                )
        _, sw = sm.send(commands.mse_set_dst(dv.body.car))
    if sw != SW2.OK:
        raise TerminalRefused(f"the card does not know this terminal's city root (status {sw:04X})")
    _ok(
        sm,
        commands.pso_verify_certificate(access.dv_certificate),
        _terminal_refused("the DV certificate"),
    )
    _ok(sm, commands.mse_set_dst(dv.body.chr), _terminal_refused("the DV reference"))
    _ok(
        sm,
        commands.pso_verify_certificate(access.terminal_certificate),
        _terminal_refused("the terminal certificate"),
    )
    ephemeral = _scalar(rng)
    ephemeral_public = P256.public_key(ephemeral)
    compressed = ta.compress(P256, ephemeral_public)
    _ok(
        sm,
        commands.mse_set_at(commands.MSE_TA, ta.mse_set_at(terminal.body.chr, compressed, aux)),
        _terminal_refused("the terminal's MSE:Set AT"),
    )
    challenge = _ok(sm, commands.get_challenge(), _terminal_refused("GET CHALLENGE"))
    if len(challenge) != ta.CHALLENGE_LENGTH:
        raise CardProtocolError("the card's challenge is not 8 bytes")
    message = ta.signature_input(ta.compress(P256, card_public), challenge, compressed, aux)
    _ok(
        sm,
        commands.external_authenticate(ta.sign(access.private_key, message)),
        _terminal_refused("the terminal's signature"),
    )
    return ephemeral, ephemeral_public


def _refused(what: str) -> Callable[[int], Exception]:
    return lambda sw: AccessRefused(f"the card refused {what} (status {sw:04X})")


def _predicate(sm: ByteProcessor, oid: str, what: str) -> bool:
    _, sw = sm.send(commands.verify_auxiliary_data(oid))
    if sw == SW2.OK:
        return True
    if sw == SW2.FAILED:
        return False
    raise AccessRefused(f"the card refused the {what} check (status {sw:04X})")


def disclose(
    connection: Connection,
    access: TerminalAccess,
    can: str,
    *,
    today: date,
    trust: TrustStore | None = None,
    rng: Rng = secrets.token_bytes,
    reader: str | None = None,
) -> Disclosure:
    """Run the whole terminal session; return what ``access.role`` is entitled to.

    ``today`` is the terminal's date (the local calendar date at the edge): the date
    the predicates are asked about. With ``trust``, the card security object must be
    signed by one of its issuer keys. Raises WrongCan (PACE), TerminalRefused (TA),
    SecurityObjectInvalid (the chip is not the issuer's), NotGeneration2, AccessRefused
    or CardProtocolError; transport errors pass through.
    """
    rights = access.rights
    if rights & Rights.AGE_VERIFICATION and access.age is None:
        raise AccessRefused("an age-check terminal needs the age it checks")
    link = LinkProcessor(connection)
    read_card_access(link)
    keys, card_public = pace_with_can(link, can, rng)
    sm = SecureMessagingProcessor(link, keys)
    try:
        age = access.age if rights & Rights.AGE_VERIFICATION else None
        aux = ta.auxiliary_data(
            date_of_birth=None if age is None else age_date(today, age),
            date_of_expiry=today if rights & Rights.VALIDITY else None,
        )
        ephemeral, ephemeral_public = terminal_authentication(sm, access, card_public, aux, rng)
        security = parse_card_security(
            _ok(sm, _read_binary(SFI_CARD_SECURITY), _refused("EF.CardSecurity")), trust
        )
        _ok(sm, commands.mse_set_at(commands.MSE_CA_RI, ca.mse_set_at()), _refused("CA"))
        answer = _ok(
            sm, commands.general_authenticate(ca.command_data(ephemeral_public)), _refused("CA")
        )
        try:
            nonce, token = ca.parse_response_data(answer)
            ca_keys = ca.terminal_step(
                P256, ephemeral, ephemeral_public, security.chip_key, nonce, token
            )
        except EacError:
            raise SecurityObjectInvalid(
                "the chip did not prove it holds the key of its card security object"
            ) from None
        sm.restart(ca_keys)
        disclosed: dict[str, Any] = {}
        granted: set[str] = set()
        if rights & Rights.RESTRICTED_IDENTIFICATION and access.sector_public_key is not None:
            _ok(sm, commands.mse_set_at(commands.MSE_CA_RI, ri.mse_set_at()), _refused("RI"))
            answer = _ok(
                sm,
                commands.general_authenticate(ri.command_data(access.sector_public_key)),
                _refused("RI"),
            )
            try:
                disclosed["pseudonym"] = ri.parse_response_data(answer)
            except EacError:
                raise CardProtocolError("the card's pseudonym is malformed") from None
            granted.add("pseudonym")
        for group, right, label in _READS:
            if rights & right:
                disclosed[label] = _read_group(sm, group)
                granted.add(label)
        if age is not None:
            disclosed["age_over"] = _predicate(sm, ta.ID_DATE_OF_BIRTH, "age")
            granted.add("age")
        if rights & Rights.VALIDITY:
            disclosed["valid_on_date"] = _predicate(sm, ta.ID_DATE_OF_EXPIRY, "validity")
    finally:
        sm.close()
    valid = True
    if "valid_on_date" in disclosed:
        valid = bool(disclosed["valid_on_date"])
    elif disclosed.get("expires") is not None:
        valid = disclosed["expires"] >= today
    facts = Facts("chip_card", reader=reader, locked=True, exchanges=link.apdus, unit="APDU")
    return Disclosure(
        role=access.role,
        valid=valid,
        authenticity=Authenticity.CHIP_AUTHENTICATED,
        facts=facts,
        issuer=security.kid,
        today=today,
        age=age,
        granted=frozenset(granted),
        bytes_sent=link.sent,
        bytes_received=link.received,
        **disclosed,
    )


_READS: Sequence[tuple[DataGroup, Rights, str]] = (
    (DataGroup.NAME, Rights.READ_NAME, "name"),
    (DataGroup.DATE_OF_BIRTH, Rights.READ_DATE_OF_BIRTH, "date_of_birth"),
    (DataGroup.GENDER, Rights.READ_GENDER, "gender"),
    (DataGroup.EXPIRY, Rights.READ_EXPIRY, "expires"),
)


def _read_group(sm: ByteProcessor, group: DataGroup) -> Any:
    data, sw = sm.send(_read_binary(int(group)))
    if sw == SW2.FILE_NOT_FOUND and group == DataGroup.GENDER:
        return None  # the holder chose no gender: the card holds no DG11
    if sw != SW2.OK:
        raise AccessRefused(f"the card refused to read DG{int(group)} (status {sw:04X})")
    try:
        return decode_data_group(group, data)
    except EacError:
        raise CardProtocolError(f"the card's DG{int(group)} is malformed") from None
