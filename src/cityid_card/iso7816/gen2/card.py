"""The generation-2 card application: the reference emulator, bytes in and bytes out.

It implements ``specs/card-application.md`` version 2 on the EAC steps of
:mod:`cityid_card.eac`: EF.CardAccess (the same on every card), PACE with the 6-digit
CAN (throttled), secure messaging on every command after it, Terminal Authentication
v2 (CVCA -> DV -> terminal, link certificates for a CVCA rollover), Chip Authentication
v2 with a batch key certified by the card security object, Restricted Identification
per sector, the age and validity predicates (one bit each) and the data groups, each
readable with its right only.

Pure: no clock, no file; randomness comes from ``rng`` (the operating system's by
default). The persistent state is a :class:`Gen2State`, replaced whole at each change
(a Java Card transaction); ``on_commit`` sees each new one. The volatile state (the
PACE run, the secure channel, what the terminal proved) is lost at :meth:`reset`, as
at a power cycle.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar

from cityid_card import qr
from cityid_card.eac import P256, ca, cvc, pace, ri, ta, tlv
from cityid_card.eac.cvc import Rights, Role, TrustPoint, VerifiedTerminal
from cityid_card.eac.errors import EacError, SecureMessagingError
from cityid_card.eac.security_infos import CardAccess
from cityid_card.eac.sm import Apdu, CardChannel, decode_apdu
from cityid_card.iso7816.apdu import Lifecycle
from cityid_card.media.errors import MediumError

from .constants import (
    AID,
    DATA_GROUPS,
    MAX_PACE_FAILURES_BLOCK,
    MAX_PACE_FAILURES_SUSPEND,
    SFI_CARD_ACCESS,
    SFI_CARD_SECURITY,
    SW2,
    DataGroup,
    PutData,
)

__all__ = ["STATE_FORMAT", "Gen2Application", "Gen2State"]

STATE_FORMAT = "cityid-card emulated card generation 2"
_SCALAR = 32
_PACE_OID = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class Gen2State:
    """What the card keeps in non-volatile memory; repr hides the secrets and the data."""

    lifecycle: Lifecycle = Lifecycle.INITIALISATION
    can: str | None = field(default=None, repr=False)
    #: Consecutive failed PACE runs (wrong CAN, torn or malformed), kept across power.
    pace_failures: int = 0
    #: The current CVCA certificate (the trust point), replaced by link certificates.
    trust_point: bytes | None = field(default=None, repr=False)
    #: The card's estimate of today: the latest effective date of a certificate it verified.
    current_date: date | None = None
    #: The Chip Authentication private key (the batch key), 32 bytes.
    chip_key: bytes | None = field(default=None, repr=False)
    card_security: bytes | None = field(default=None, repr=False)
    #: The Restricted Identification private key SK_ID, made on the card.
    id_key: bytes | None = field(default=None, repr=False)
    data_groups: Mapping[int, bytes] = field(default_factory=dict, repr=False)

    @property
    def blank(self) -> bool:
        """Whether nothing was personalised yet."""
        return self == Gen2State()

    def to_json(self) -> dict[str, Any]:
        def hex_or_none(value: bytes | None) -> str | None:
            return None if value is None else value.hex()

        return {
            "format": STATE_FORMAT,
            "lifecycle": self.lifecycle.name.lower(),
            "can": self.can,
            "pace_failures": self.pace_failures,
            "trust_point": hex_or_none(self.trust_point),
            "current_date": None if self.current_date is None else self.current_date.isoformat(),
            "chip_key": hex_or_none(self.chip_key),
            "card_security": hex_or_none(self.card_security),
            "id_key": hex_or_none(self.id_key),
            "data_groups": {str(k): v.hex() for k, v in sorted(self.data_groups.items())},
        }

    @classmethod
    def from_json(cls, document: Any) -> Gen2State:
        """Load a state written by :meth:`to_json`; raise MediumError if it is not one."""

        def optional_bytes(value: Any, size: int | None = None) -> bytes | None:
            if value is None:
                return None
            data = bytes.fromhex(value)
            if size is not None and len(data) != size:
                raise ValueError
            return data

        try:
            if document["format"] != STATE_FORMAT:
                raise ValueError
            can = document["can"]
            if can is not None and not qr.is_can(can):
                raise ValueError
            failures = document["pace_failures"]
            if not isinstance(failures, int) or not 0 <= failures <= MAX_PACE_FAILURES_BLOCK:
                raise ValueError
            day = document["current_date"]
            groups = {int(k): bytes.fromhex(v) for k, v in document["data_groups"].items()}
            if any(k not in set(DataGroup) or len(v) > 1024 for k, v in groups.items()):
                raise ValueError
            return cls(
                lifecycle=Lifecycle[document["lifecycle"].upper()],
                can=can,
                pace_failures=failures,
                trust_point=optional_bytes(document["trust_point"]),
                current_date=None if day is None else date.fromisoformat(day),
                chip_key=optional_bytes(document["chip_key"], _SCALAR),
                card_security=optional_bytes(document["card_security"]),
                id_key=optional_bytes(document["id_key"], _SCALAR),
                data_groups=groups,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MediumError("not an emulated generation-2 card state file") from None


class _Refusal(Exception):
    def __init__(self, sw: int) -> None:
        self.sw = sw


@dataclass
class _Pace:
    """One PACE run in progress."""

    step: int = 0
    doomed: bool = False
    nonce: bytes = b""
    generator: bytes = b""
    private: int = 0
    public: bytes = b""
    peer_public: bytes = b""
    keys: pace.SessionKeys | None = None


@dataclass
class _Session:
    """What the card knows after PACE, until the power goes or the channel fails."""

    channel: CardChannel
    id_picc: bytes
    dst: str | None = None
    dv: bytes | None = None
    dv_chr: str | None = None
    terminal: VerifiedTerminal | None = None
    terminal_window: tuple[date, date] | None = None
    ta_chr: str | None = None
    ephemeral: bytes | None = None
    aux: Mapping[str, date] = field(default_factory=dict)
    aux_bytes: bytes = b""
    challenge: bytes | None = None
    rights: int | None = None
    pending: str | None = None
    chip_authenticated: bool = False
    next_channel: CardChannel | None = None


def _scalar(rng: Rng) -> int:
    return 1 + int.from_bytes(rng(_SCALAR + 8), "big") % (P256.n - 1)


class Gen2Application:
    """The generation-2 card application on an emulated card (see the module docstring)."""

    def __init__(
        self,
        state: Gen2State | None = None,
        *,
        on_commit: Callable[[Gen2State], None] | None = None,
        rng: Rng = secrets.token_bytes,
    ) -> None:
        self._state = state or Gen2State()
        self._on_commit = on_commit
        self._rng = rng
        self._pace: _Pace | None = None
        self._session: _Session | None = None
        self._tried_since_power_up = False

    @property
    def state(self) -> Gen2State:
        return self._state

    def reset(self) -> None:
        """Power off and on: the PACE run and the secure channel are gone."""
        self._pace = None
        self._session = None
        self._tried_since_power_up = False

    def tear(self, apdu: bytes) -> None:
        """Lose power while processing ``apdu``: a PACE run that reached its last step
        counts as failed (the counter is written before the token is checked)."""
        if self._pace is not None and self._pace.step == 3:
            self._commit(replace(self._state, pace_failures=self._failures_after_one_more()))
        self.reset()

    def _commit(self, state: Gen2State) -> None:
        self._state = state
        if self._on_commit is not None:
            self._on_commit(state)

    def process(self, apdu: bytes) -> bytes:
        """Process one command APDU, protected or not; return the response APDU."""
        session = self._session
        if session is not None:
            return self._process_protected(session, apdu)
        try:
            command = decode_apdu(apdu)
        except EacError:
            return self._sw(SW2.WRONG_LENGTH)
        try:
            data = self._dispatch_plain(command)
        except _Refusal as refusal:
            return self._sw(refusal.sw)
        return data + SW2.OK.to_bytes(2, "big")

    @staticmethod
    def _sw(sw: int) -> bytes:
        return sw.to_bytes(2, "big")

    # --- before PACE ----------------------------------------------------------------

    def _dispatch_plain(self, command: Apdu) -> bytes:
        if command.cla not in (0x00, 0x10):
            if command.cla & 0x0C:
                raise _Refusal(SW2.SM_MISSING)
            raise _Refusal(SW2.CLA_NOT_SUPPORTED)
        if command.ins in (0x22, 0x86):
            return self._pace_command(command)
        self._pace = None
        if command.cla != 0x00:
            raise _Refusal(SW2.CLA_NOT_SUPPORTED)
        if command.ins == 0xA4:
            return self._select(command)
        if command.ins == 0xB0 and command.p1 == 0x80 | SFI_CARD_ACCESS:
            return self._read_card_access(command)
        if self._state.lifecycle == Lifecycle.INITIALISATION:
            handler = self._PERSONALISATION.get(command.ins)
            if handler is not None:
                return handler(self, command)
        if command.ins in self._KNOWN:
            raise _Refusal(SW2.SECURITY_STATUS_NOT_SATISFIED)
        raise _Refusal(SW2.INS_NOT_SUPPORTED)

    def _select(self, command: Apdu) -> bytes:
        if command.p1 != 0x04 or command.p2 not in (0x00, 0x0C):
            raise _Refusal(SW2.INCORRECT_P1P2)
        if command.data != AID:
            raise _Refusal(SW2.FILE_NOT_FOUND)
        return b""

    def _read_card_access(self, command: Apdu) -> bytes:
        if self._state.lifecycle != Lifecycle.OPERATIONAL:
            raise _Refusal(SW2.FILE_NOT_FOUND)
        return _read(CardAccess().encode(), command)

    # --- PACE -----------------------------------------------------------------------

    def _failures_after_one_more(self) -> int:
        return min(self._state.pace_failures + 1, MAX_PACE_FAILURES_BLOCK)

    def _pace_command(self, command: Apdu) -> bytes:
        """Every PACE failure, whatever its cause, ends the run with one status word."""
        try:
            return self._pace_step(command)
        except (_Refusal, EacError):
            self._pace = None
            raise _Refusal(SW2.FAILED) from None

    def _pace_step(self, command: Apdu) -> bytes:
        state = self._state
        if state.lifecycle != Lifecycle.OPERATIONAL or state.can is None:
            raise _Refusal(SW2.FAILED)
        if command.ins == 0x22:
            if (command.cla, command.p1, command.p2) != (0x00, 0xC1, 0xA4):
                raise _Refusal(SW2.FAILED)
            parts = tlv.fields(command.data, [(0x80, True), (0x83, True)], "MSE:Set AT")
            if tlv.decode_oid(parts[0x80]) != _PACE_OID or parts[0x83] != bytes(
                [pace.PASSWORD_CAN]
            ):
                raise _Refusal(SW2.FAILED)
            failures = state.pace_failures
            # Throttled: the run goes on as usual and fails at its last step, so that a
            # throttled card looks like any card with a wrong CAN.
            doomed = failures >= MAX_PACE_FAILURES_BLOCK or (
                failures >= MAX_PACE_FAILURES_SUSPEND and self._tried_since_power_up
            )
            self._tried_since_power_up = True
            self._pace = _Pace(doomed=doomed)
            return b""
        run = self._pace
        if run is None or command.p1 != 0 or command.p2 != 0 or command.ne is None:
            raise _Refusal(SW2.FAILED)
        last = run.step == 3
        if command.cla != (0x00 if last else 0x10):
            raise _Refusal(SW2.FAILED)
        ga = pace.dynamic_authentication_data
        if run.step == 0:
            pace.parse_dynamic_authentication_data(command.data, ())
            run.nonce = self._rng(16)
            run.step = 1
            return ga((0x80, pace.encrypt_nonce(state.can, run.nonce)))
        if run.step == 1:
            peer = pace.parse_dynamic_authentication_data(command.data, (0x81,))[0x81]
            mapping = _scalar(self._rng)
            run.generator = pace.map_generator(P256, run.nonce, mapping, peer)
            run.step = 2
            return ga((0x82, P256.public_key(mapping)))
        if run.step == 2:
            run.peer_public = pace.parse_dynamic_authentication_data(command.data, (0x83,))[0x83]
            run.private = _scalar(self._rng)
            run.public = pace.public_key_on(P256, run.generator, run.private)
            shared = pace.shared_secret(P256, run.private, run.public, run.peer_public)
            run.keys = pace.session_keys(shared)
            run.step = 3
            return ga((0x84, run.public))
        token = pace.parse_dynamic_authentication_data(command.data, (0x85,))[0x85]
        assert run.keys is not None
        # The failure is counted before the token is checked, so that pulling the card
        # out before the answer does not give a free guess.
        self._commit(replace(state, pace_failures=self._failures_after_one_more()))
        if run.doomed:
            raise _Refusal(SW2.FAILED)
        pace.verify_authentication_token(run.keys.mac, _PACE_OID, run.public, token)
        self._commit(replace(self._state, pace_failures=0))
        self._pace = None
        self._session = _Session(CardChannel(run.keys), ta.compress(P256, run.public))
        return ga((0x86, pace.authentication_token(run.keys.mac, _PACE_OID, run.peer_public)))

    # --- personalisation (life cycle INITIALISATION only, before any PACE) ----------

    def _put_data(self, command: Apdu) -> bytes:
        if not command.data or command.ne is not None:
            raise _Refusal(SW2.WRONG_LENGTH)
        state = self._state
        key = (command.p1 << 8) | command.p2
        data = command.data
        if key == PutData.CAN:
            if len(data) != 6 or not data.isdigit():
                raise _Refusal(SW2.WRONG_DATA)
            state = replace(state, can=data.decode("ascii"))
        elif key == PutData.TRUST_POINT:
            try:
                certificate = cvc.parse_certificate(data)
                TrustPoint.from_certificate(certificate)
                cvc.verify_signature(certificate, certificate.body.public_key)
            except EacError:
                raise _Refusal(SW2.WRONG_DATA) from None
            state = replace(state, trust_point=data)
        elif key == PutData.CHIP_KEY:
            if len(data) != _SCALAR or not 0 < int.from_bytes(data, "big") < P256.n:
                raise _Refusal(SW2.WRONG_DATA)
            state = replace(state, chip_key=data)
        elif key == PutData.CARD_SECURITY:
            state = replace(state, card_security=data)
        elif key == PutData.DATA_GROUPS:
            try:
                groups = {tag - 0x60: tlv.encode(tag, value) for tag, value in tlv.decode_all(data)}
            except EacError:
                raise _Refusal(SW2.WRONG_DATA) from None
            if not set(groups) <= set(DataGroup) or len(groups) != len(tlv.decode_all(data)):
                raise _Refusal(SW2.WRONG_DATA)
            state = replace(state, data_groups=groups)
        elif key == PutData.DATE:
            state = replace(state, current_date=_parse_day(data))
        else:
            raise _Refusal(SW2.INCORRECT_P1P2)
        self._commit(state)
        return b""

    def _generate_id_key(self, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0x80, 0x00):
            raise _Refusal(SW2.INCORRECT_P1P2)
        if command.data or command.ne is None:
            raise _Refusal(SW2.WRONG_LENGTH)
        private = _scalar(self._rng)
        self._commit(replace(self._state, id_key=private.to_bytes(_SCALAR, "big")))
        return tlv.encode(0x7F49, tlv.encode(0x86, P256.public_key(private)))

    def _activate(self, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0x00, 0x00):
            raise _Refusal(SW2.INCORRECT_P1P2)
        if command.data or command.ne is not None:
            raise _Refusal(SW2.WRONG_LENGTH)
        state = self._state
        required = (state.can, state.trust_point, state.chip_key, state.card_security)
        if any(value is None for value in required) or state.id_key is None:
            raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
        if state.current_date is None or not {DataGroup.NAME, DataGroup.EXPIRY} <= set(
            state.data_groups
        ):
            raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
        self._commit(replace(state, lifecycle=Lifecycle.OPERATIONAL))
        return b""

    # --- under secure messaging -----------------------------------------------------

    def _end(self) -> None:
        if self._session is not None:
            self._session.channel.close()
        self._session = None

    def _process_protected(self, session: _Session, apdu: bytes) -> bytes:
        try:
            plain = session.channel.unprotect(apdu)
        except SecureMessagingError as error:
            self._end()  # the keys are gone: the terminal starts again with PACE
            return self._sw(error.status_word)
        except EacError:
            self._end()
            return self._sw(SW2.SM_INCORRECT)
        command = decode_apdu(plain)
        try:
            data, sw = self._dispatch_protected(session, command), int(SW2.OK)
        except _Refusal as refusal:
            data, sw = b"", refusal.sw
        except EacError:
            data, sw = b"", int(SW2.WRONG_DATA)
        if command.ne is not None and len(data) > command.ne:
            data, sw = b"", int(SW2.WRONG_LENGTH)
        response = session.channel.protect(data, sw)
        if session.next_channel is not None:
            session.channel, session.next_channel = session.next_channel, None
        return response

    def _dispatch_protected(self, session: _Session, command: Apdu) -> bytes:
        if command.cla != 0x00:
            raise _Refusal(SW2.CLA_NOT_SUPPORTED)
        handler = self._PROTECTED.get(command.ins)
        if handler is None:
            raise _Refusal(SW2.INS_NOT_SUPPORTED)
        return handler(self, session, command)

    def _trust_point(self) -> TrustPoint:
        assert self._state.trust_point is not None
        return TrustPoint.from_certificate(cvc.parse_certificate(self._state.trust_point))

    def _mse(self, session: _Session, command: Apdu) -> bytes:
        p1p2 = (command.p1, command.p2)
        if p1p2 == (0x81, 0xB6):  # MSE:Set DST: which key verifies the next certificate
            parts = tlv.fields(command.data, [(0x83, True)], "MSE:Set DST")
            reference = parts[0x83].decode("ascii", "replace")
            known = {self._trust_point().chr}
            if session.dv_chr is not None:
                known.add(session.dv_chr)
            if reference not in known:
                session.dst = None
                raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
            session.dst = reference
            return b""
        if p1p2 == (0x81, 0xA4):  # MSE:Set AT for Terminal Authentication
            if session.terminal is None or session.rights is not None:
                raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
            chr_, ephemeral, aux = ta.parse_mse_set_at(command.data)
            if chr_ != session.terminal.chr:
                raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
            dates = ta.parse_auxiliary_data(aux) if aux else {}
            _check_auxiliary_dates(dates, session.terminal_window)
            session.ta_chr, session.ephemeral = chr_, ephemeral
            session.aux, session.aux_bytes = dates, aux
            session.challenge = None
            return b""
        if p1p2 == (0x41, 0xA4):  # MSE:Set AT for Chip Authentication or RI
            parts = tlv.fields(command.data, [(0x80, True), (0x84, False)], "MSE:Set AT")
            oid = tlv.decode_oid(parts[0x80])
            if oid == ca.ID_CA_ECDH_AES_CBC_CMAC_128 and 0x84 not in parts:
                session.pending = "ca"
            elif oid == ri.ID_RI_ECDH_SHA_256 and parts.get(0x84) == b"\x01":
                session.pending = "ri"
            else:
                session.pending = None
                raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
            return b""
        raise _Refusal(SW2.INCORRECT_P1P2)

    def _pso_verify_certificate(self, session: _Session, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0x00, 0xBE):
            raise _Refusal(SW2.INCORRECT_P1P2)
        if session.dst is None or session.rights is not None:
            raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
        encoded = tlv.encode(0x7F21, command.data)
        certificate = cvc.parse_certificate(encoded)
        issuer, session.dst = session.dst, None
        trust_point = self._trust_point()
        body = certificate.body
        if body.car != issuer:
            raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
        state = self._state
        try:
            if certificate.role is Role.CVCA:  # a link certificate: the CVCA's new key
                if issuer != trust_point.chr:
                    raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
                cvc.import_link_certificate(trust_point, encoded)
                self._commit(
                    replace(
                        state,
                        trust_point=encoded,
                        current_date=_later(state.current_date, body.effective),
                    )
                )
                session.dv = session.dv_chr = None
                return b""
            if certificate.role in (Role.DV_DOMESTIC, Role.DV_FOREIGN):
                if issuer != trust_point.chr:
                    raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
                cvc.verify_signature(certificate, trust_point.public_key)
                session.dv, session.dv_chr = encoded, body.chr
                session.terminal = None
                return b""
            if session.dv is None or issuer != session.dv_chr:
                raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
            dv = cvc.parse_certificate(session.dv)
            # The card has no clock: its date is the latest effective date among the
            # certificates it verified, moved forward by a chain that verifies.
            day = _later(_later(state.current_date, dv.body.effective), body.effective)
            session.terminal = cvc.verify_terminal(trust_point, dv, encoded, day)
        except EacError:
            raise _Refusal(SW2.FAILED) from None
        session.terminal_window = (body.effective, body.expires)
        if day != state.current_date:
            self._commit(replace(state, current_date=day))
        return b""

    def _get_challenge(self, session: _Session, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0, 0) or command.data or command.ne != 8:
            raise _Refusal(SW2.WRONG_LENGTH)
        if session.ta_chr is None or session.rights is not None:
            raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
        session.challenge = self._rng(ta.CHALLENGE_LENGTH)
        return session.challenge

    def _external_authenticate(self, session: _Session, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0, 0) or command.ne is not None:
            raise _Refusal(SW2.WRONG_LENGTH)
        challenge, session.challenge = session.challenge, None
        terminal, ephemeral = session.terminal, session.ephemeral
        if challenge is None or terminal is None or ephemeral is None:
            raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
        message = ta.signature_input(session.id_picc, challenge, ephemeral, session.aux_bytes)
        try:
            ta.verify(terminal.public_key, message, command.data)
        except EacError:
            raise _Refusal(SW2.FAILED) from None
        session.rights = terminal.rights
        return b""

    def _general_authenticate(self, session: _Session, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0, 0) or command.ne is None:
            raise _Refusal(SW2.INCORRECT_P1P2)
        pending, session.pending = session.pending, None
        if pending == "ca":
            if session.rights is None or session.chip_authenticated:
                raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
            ephemeral = ca.parse_command_data(command.data)
            assert session.ephemeral is not None
            if not hmac.compare_digest(ta.compress(P256, ephemeral), session.ephemeral):
                raise _Refusal(SW2.FAILED)
            assert self._state.chip_key is not None
            nonce = self._rng(ca.NONCE_LENGTH)
            keys, token = ca.card_step(
                P256, int.from_bytes(self._state.chip_key, "big"), ephemeral, nonce
            )
            session.chip_authenticated = True
            session.next_channel = CardChannel(keys)  # from the next command on
            return ca.response_data(nonce, token)
        if pending == "ri":
            terminal = session.terminal
            self._require(session, Rights.RESTRICTED_IDENTIFICATION)
            sector = ri.parse_command_data(P256, command.data)
            assert terminal is not None and self._state.id_key is not None
            if not cvc.sector_allowed(terminal, ri.sector_public_key_object(sector)):
                raise _Refusal(SW2.SECURITY_STATUS_NOT_SATISFIED)
            identifier = ri.sector_identifier(
                P256, int.from_bytes(self._state.id_key, "big"), sector
            )
            return ri.response_data(identifier)
        raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)

    def _require(self, session: _Session, right: Rights) -> None:
        if not session.chip_authenticated or session.rights is None:
            raise _Refusal(SW2.SECURITY_STATUS_NOT_SATISFIED)
        if not session.rights & right:
            raise _Refusal(SW2.SECURITY_STATUS_NOT_SATISFIED)

    def _read_binary(self, session: _Session, command: Apdu) -> bytes:
        if not command.p1 & 0x80 or command.p1 & 0x60:
            raise _Refusal(SW2.INCORRECT_P1P2)
        sfi = command.p1 & 0x1F
        if command.data or command.ne is None:
            raise _Refusal(SW2.WRONG_LENGTH)
        if sfi == SFI_CARD_ACCESS:
            return _read(CardAccess().encode(), command)
        if sfi == SFI_CARD_SECURITY:
            if session.rights is None:
                raise _Refusal(SW2.SECURITY_STATUS_NOT_SATISFIED)
            assert self._state.card_security is not None
            return _read(self._state.card_security, command)
        try:
            group = DataGroup(sfi)
        except ValueError:
            raise _Refusal(SW2.FILE_NOT_FOUND) from None
        self._require(session, DATA_GROUPS[group])
        content = self._state.data_groups.get(group)
        if content is None:
            raise _Refusal(SW2.FILE_NOT_FOUND)
        return _read(content, command)

    def _verify(self, session: _Session, command: Apdu) -> bytes:
        if (command.p1, command.p2) != (0x80, 0x00) or command.ne is not None:
            raise _Refusal(SW2.INCORRECT_P1P2)
        oid = tlv.decode_oid(tlv.expect(command.data, 0x06))
        if oid == ta.ID_DATE_OF_BIRTH:
            self._require(session, Rights.AGE_VERIFICATION)
            field_group = DataGroup.DATE_OF_BIRTH
        elif oid == ta.ID_DATE_OF_EXPIRY:
            self._require(session, Rights.VALIDITY)
            field_group = DataGroup.EXPIRY
        else:
            raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
        day = session.aux.get(oid)
        content = self._state.data_groups.get(field_group)
        if day is None or content is None:
            raise _Refusal(SW2.REFERENCED_DATA_NOT_FOUND)
        value = _stored_date(field_group, content)
        holds = value <= day if field_group == DataGroup.DATE_OF_BIRTH else day <= value
        if not holds:
            raise _Refusal(SW2.FAILED)
        return b""

    _KNOWN: ClassVar[frozenset[int]] = frozenset({0x2A, 0x84, 0x82, 0xB0, 0x20, 0xDA, 0x47, 0x44})
    _PERSONALISATION: ClassVar[dict[int, Callable[[Gen2Application, Apdu], bytes]]] = {
        0xDA: _put_data,
        0x47: _generate_id_key,
        0x44: _activate,
    }
    _PROTECTED: ClassVar[dict[int, Callable[[Gen2Application, _Session, Apdu], bytes]]] = {
        0x22: _mse,
        0x2A: _pso_verify_certificate,
        0x84: _get_challenge,
        0x82: _external_authenticate,
        0x86: _general_authenticate,
        0xB0: _read_binary,
        0x20: _verify,
    }


def _read(content: bytes, command: Apdu) -> bytes:
    offset = command.p2 if command.p1 & 0x80 else (command.p1 << 8) | command.p2
    if command.data or command.ne is None:
        raise _Refusal(SW2.WRONG_LENGTH)
    if offset > len(content):
        raise _Refusal(SW2.INCORRECT_P1P2)
    return content[offset : offset + command.ne]


def _later(day: date | None, other: date) -> date:
    return other if day is None or other > day else day


def _parse_day(data: bytes) -> date:
    if len(data) != 8 or not data.isdigit():
        raise _Refusal(SW2.WRONG_DATA)
    try:
        return date(int(data[:4]), int(data[4:6]), int(data[6:]))
    except ValueError:
        raise _Refusal(SW2.WRONG_DATA) from None


def _stored_date(group: DataGroup, content: bytes) -> date:
    from .datagroups import decode_data_group

    value = decode_data_group(group, content)
    assert isinstance(value, date)
    return value


def _check_auxiliary_dates(dates: Mapping[str, date], window: tuple[date, date] | None) -> None:
    """The dates a terminal asks about must be dates of its certificate's validity.

    Validity: the date itself lies in [effective, expires]. Age: the date is such a day
    moved back by a whole number of years (the terminal asks "N years old on a day of
    its certificate"), so that a venue cannot walk the date of birth down day by day.
    """
    if window is None:
        raise _Refusal(SW2.CONDITIONS_NOT_SATISFIED)
    first, last = window
    validity = dates.get(ta.ID_DATE_OF_EXPIRY)
    if validity is not None and not first <= validity <= last:
        raise _Refusal(SW2.WRONG_DATA)
    age = dates.get(ta.ID_DATE_OF_BIRTH)
    if age is not None and not any(
        first <= _same_day_in(age, year) <= last for year in range(first.year, last.year + 1)
    ):
        raise _Refusal(SW2.WRONG_DATA)


def _same_day_in(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)
