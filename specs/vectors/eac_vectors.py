"""Generate ``eac_vectors.json``: the exact bytes of every EAC step of specs/eac.md.

Run ``python specs/vectors/eac_vectors.py`` to rewrite it. Every private key, nonce and
challenge is derived from a public label by SHA-256 (test vectors only, never for real
cards), and ECDSA is deterministic (RFC 6979), so the test suite
(tests/eac/test_eac_vectors.py) checks that regenerating gives exactly the checked-in
file, and re-derives every value from the file alone.

The transcript is one desk read of the library role: PACE with the CAN (plain APDUs),
then, under secure messaging, Terminal Authentication with the DV and terminal
certificates and a validity date as auxiliary data, Chip Authentication (secure messaging
restarts with its keys), Restricted Identification and one VERIFY of the validity predicate.
Responses are what a conforming card answers.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cityid_card.eac import P256, SessionKeys, ca, commands, cvc, kdf, pace, ri, sm, ta
from cityid_card.eac.cvc import Chat, Rights, Role
from cityid_card.eac.security_infos import CardAccess

HERE = Path(__file__).resolve().parent
CAN = "500540"
TODAY = date(2027, 1, 15)
EFFECTIVE = date(2026, 12, 1)
ALL_RIGHTS = int(
    Rights.AGE_VERIFICATION
    | Rights.RESTRICTED_IDENTIFICATION
    | Rights.READ_EXPIRY
    | Rights.READ_NAME
    | Rights.READ_DATE_OF_BIRTH
    | Rights.READ_GENDER
    | Rights.VALIDITY
)
LIBRARY_RIGHTS = int(
    Rights.READ_NAME | Rights.READ_EXPIRY | Rights.RESTRICTED_IDENTIFICATION | Rights.VALIDITY
)


def seeded(label: str, length: int = 32) -> bytes:
    """Bytes derived from a public label: for test vectors only."""
    return hashlib.sha256(f"cityid-card eac vector {label}".encode()).digest()[:length]


def scalar(label: str) -> int:
    return int.from_bytes(seeded(label), "big") % (P256.n - 1) + 1


def signing_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(scalar(label), ec.SECP256R1())


def x(data: bytes) -> str:
    return data.hex().upper()


def certificates() -> dict[str, Any]:
    cvca_key, dv_key, terminal_key = (signing_key(n) for n in ("cvca", "dv", "terminal"))
    new_cvca_key = signing_key("cvca 2")
    sector = ri.sector_public_key_object(P256.public_key(scalar("sector library")))

    def body(
        car: str,
        key: ec.EllipticCurvePrivateKey,
        chr_: str,
        chat: Chat,
        expires: date,
        **extra: Any,
    ) -> cvc.CertificateBody:
        return cvc.CertificateBody(
            car,
            P256.public_key(key.private_numbers().private_value),
            chr_,
            chat,
            EFFECTIVE,
            expires,
            **extra,
        )

    cvca = cvc.sign_certificate(
        body(
            "USCHICVCA00001",
            cvca_key,
            "USCHICVCA00001",
            Chat(Role.CVCA, ALL_RIGHTS),
            date(2030, 12, 1),
            domain_parameters=True,
        ),
        cvca_key,
    )
    dv = cvc.sign_certificate(
        body(
            "USCHICVCA00001",
            dv_key,
            "USCHIDVLIB00001",
            Chat(Role.DV_DOMESTIC, ALL_RIGHTS),
            date(2028, 12, 1),
        ),
        cvca_key,
    )
    terminal = cvc.sign_certificate(
        body(
            "USCHIDVLIB00001",
            terminal_key,
            "USCHILIBDSK00001",
            Chat(Role.TERMINAL, LIBRARY_RIGHTS),
            date(2027, 3, 1),
            extensions=(cvc.sector_extension(sector),),
        ),
        dv_key,
    )
    link = cvc.sign_certificate(
        body(
            "USCHICVCA00001",
            new_cvca_key,
            "USCHICVCA00002",
            Chat(Role.CVCA, ALL_RIGHTS),
            date(2034, 12, 1),
            domain_parameters=True,
        ),
        cvca_key,
    )
    trust = cvc.TrustPoint.from_certificate(cvc.parse_certificate(cvca))
    verified = cvc.verify_chain(trust, [dv, terminal], TODAY)
    return {
        "today": TODAY.isoformat(),
        "cvca": {"private_key": x(scalar("cvca").to_bytes(32, "big")), "certificate": x(cvca)},
        "dv": {"private_key": x(scalar("dv").to_bytes(32, "big")), "certificate": x(dv)},
        "terminal": {
            "private_key": x(scalar("terminal").to_bytes(32, "big")),
            "certificate": x(terminal),
        },
        "link": {
            "description": "CVCA rollover: USCHICVCA00002's key signed by USCHICVCA00001's",
            "private_key": x(scalar("cvca 2").to_bytes(32, "big")),
            "certificate": x(link),
        },
        "sector_public_key_object": x(sector),
        "effective_rights": x(verified.rights.to_bytes(5, "big")),
    }


class Channel:
    """Records APDUs; once keys are set, the terminal's and the card's secure channels."""

    def __init__(self) -> None:
        self.terminal: sm.TerminalChannel | None = None
        self.card: sm.CardChannel | None = None
        self.steps: list[dict[str, str]] = []

    def exchange(self, step: str, command: bytes, data: bytes = b"", sw: int = 0x9000) -> None:
        answer = data + sw.to_bytes(2, "big")
        if self.terminal is None or self.card is None:
            self.steps.append({"step": step, "command": x(command), "response": x(answer)})
            return
        protected = self.terminal.protect(command)
        assert self.card.unprotect(protected) == command
        ssc = self.terminal.ssc
        response = self.card.protect(data, sw)
        assert self.terminal.unprotect(response) == (data, sw)
        self.steps.append(
            {
                "step": step,
                "ssc": str(ssc),
                "command": x(command),
                "protected_command": x(protected),
                "response": x(answer),
                "protected_response": x(response),
            }
        )

    def restart(self, keys: SessionKeys) -> None:
        self.terminal, self.card = sm.TerminalChannel(keys), sm.CardChannel(keys)


def transcript(certs: dict[str, Any]) -> dict[str, Any]:
    channel = Channel()
    ga = pace.dynamic_authentication_data
    oid = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    # --- PACE ---------------------------------------------------------------------------
    nonce = seeded("pace nonce", 16)
    z = pace.encrypt_nonce(CAN, nonce)
    map_pcd, map_picc = scalar("pace map terminal"), scalar("pace map card")
    map_pcd_pub, map_picc_pub = P256.public_key(map_pcd), P256.public_key(map_picc)
    h = P256.encode_point(P256.multiply(P256.decode_point(map_picc_pub), map_pcd))
    generator = pace.map_generator(P256, nonce, map_pcd, map_picc_pub)
    assert generator == pace.map_generator(P256, nonce, map_picc, map_pcd_pub)
    eph_pcd, eph_picc = scalar("pace ephemeral terminal"), scalar("pace ephemeral card")
    eph_pcd_pub = pace.public_key_on(P256, generator, eph_pcd)
    eph_picc_pub = pace.public_key_on(P256, generator, eph_picc)
    shared = pace.shared_secret(P256, eph_pcd, eph_pcd_pub, eph_picc_pub)
    keys = pace.session_keys(shared)
    t_pcd = pace.authentication_token(keys.mac, oid, eph_picc_pub)
    t_picc = pace.authentication_token(keys.mac, oid, eph_pcd_pub)
    channel.exchange(
        "MSE:Set AT for PACE with the CAN",
        commands.mse_set_at(commands.MSE_PACE, pace.mse_set_at(oid)),
    )
    channel.exchange(
        "GA 1: encrypted nonce", commands.general_authenticate(ga(), last=False), ga((0x80, z))
    )
    channel.exchange(
        "GA 2: mapping keys",
        commands.general_authenticate(ga((0x81, map_pcd_pub)), last=False),
        ga((0x82, map_picc_pub)),
    )
    channel.exchange(
        "GA 3: ephemeral keys",
        commands.general_authenticate(ga((0x83, eph_pcd_pub)), last=False),
        ga((0x84, eph_picc_pub)),
    )
    channel.exchange(
        "GA 4: authentication tokens",
        commands.general_authenticate(ga((0x85, t_pcd))),
        ga((0x86, t_picc)),
    )
    pace_vector = {
        "protocol": oid,
        "can": CAN,
        "k_pi": x(kdf.kdf_pi(CAN)),
        "nonce": x(nonce),
        "encrypted_nonce": x(z),
        "terminal_mapping_private": x(map_pcd.to_bytes(32, "big")),
        "terminal_mapping_public": x(map_pcd_pub),
        "card_mapping_private": x(map_picc.to_bytes(32, "big")),
        "card_mapping_public": x(map_picc_pub),
        "mapping_point_h": x(h),
        "mapped_generator": x(generator),
        "terminal_ephemeral_private": x(eph_pcd.to_bytes(32, "big")),
        "terminal_ephemeral_public": x(eph_pcd_pub),
        "card_ephemeral_private": x(eph_picc.to_bytes(32, "big")),
        "card_ephemeral_public": x(eph_picc_pub),
        "shared_secret": x(shared),
        "k_enc": x(keys.enc),
        "k_mac": x(keys.mac),
        "terminal_token": x(t_pcd),
        "card_token": x(t_picc),
    }
    # --- TA under secure messaging -------------------------------------------------------
    channel.restart(keys)
    dv, terminal = (
        bytes.fromhex(certs["dv"]["certificate"]),
        bytes.fromhex(certs["terminal"]["certificate"]),
    )
    channel.exchange(
        "MSE:Set DST: the CVCA verifies the next certificate",
        commands.mse_set_dst("USCHICVCA00001"),
    )
    channel.exchange("PSO:Verify Certificate: DV", commands.pso_verify_certificate(dv))
    channel.exchange(
        "MSE:Set DST: the DV verifies the next certificate", commands.mse_set_dst("USCHIDVLIB00001")
    )
    channel.exchange("PSO:Verify Certificate: terminal", commands.pso_verify_certificate(terminal))
    ca_eph = scalar("ca ephemeral terminal")
    ca_eph_pub = P256.public_key(ca_eph)
    aux = ta.auxiliary_data(date_of_expiry=TODAY)
    id_picc = ta.compress(P256, eph_picc_pub)
    challenge = seeded("ta challenge", 8)
    message = ta.signature_input(id_picc, challenge, ta.compress(P256, ca_eph_pub), aux)
    signature = ta.sign(signing_key("terminal"), message)
    channel.exchange(
        "MSE:Set AT for TA: terminal CHR, Comp(ePK_PCD), auxiliary data (validity date)",
        commands.mse_set_at(
            commands.MSE_TA, ta.mse_set_at("USCHILIBDSK00001", ta.compress(P256, ca_eph_pub), aux)
        ),
    )
    channel.exchange("GET CHALLENGE", commands.get_challenge(), challenge)
    channel.exchange("EXTERNAL AUTHENTICATE", commands.external_authenticate(signature))
    ta_vector = {
        "id_picc": x(id_picc),
        "challenge": x(challenge),
        "terminal_ephemeral_private": x(ca_eph.to_bytes(32, "big")),
        "terminal_ephemeral_public": x(ca_eph_pub),
        "auxiliary_data": x(aux),
        "signature_input": x(message),
        "signature": x(signature),
    }
    # --- CA: secure messaging restarts with the new keys ---------------------------------
    chip = scalar("ca chip static")
    ca_nonce = seeded("ca nonce", 8)
    ca_keys, ca_token = ca.card_step(P256, chip, ca_eph_pub, ca_nonce)
    channel.exchange("MSE:Set AT for CA", commands.mse_set_at(commands.MSE_CA_RI, ca.mse_set_at()))
    channel.exchange(
        "GA: CA with the terminal's ephemeral key",
        commands.general_authenticate(ca.command_data(ca_eph_pub)),
        ca.response_data(ca_nonce, ca_token),
    )
    channel.restart(ca_keys)
    ca_vector = {
        "protocol": ca.ID_CA_ECDH_AES_CBC_CMAC_128,
        "chip_private": x(chip.to_bytes(32, "big")),
        "chip_public": x(P256.public_key(chip)),
        "shared_secret": x(P256.ecdh_x(chip, ca_eph_pub)),
        "nonce": x(ca_nonce),
        "k_enc": x(ca_keys.enc),
        "k_mac": x(ca_keys.mac),
        "card_token": x(ca_token),
    }
    # --- RI and one predicate, under the CA keys -----------------------------------------
    sk_id = scalar("ri card id")
    sector_private = scalar("sector library")
    sector_public = P256.public_key(sector_private)
    identifier = ri.sector_identifier(P256, sk_id, sector_public)
    channel.exchange("MSE:Set AT for RI", commands.mse_set_at(commands.MSE_CA_RI, ri.mse_set_at()))
    channel.exchange(
        "GA: RI with the library sector's public key",
        commands.general_authenticate(ri.command_data(sector_public)),
        ri.response_data(identifier),
    )
    channel.exchange(
        "VERIFY: validity (the card has not expired on the authenticated date)",
        commands.verify_auxiliary_data(ta.ID_DATE_OF_EXPIRY),
    )
    ri_vector = {
        "protocol": ri.ID_RI_ECDH_SHA_256,
        "card_id_private": x(sk_id.to_bytes(32, "big")),
        "card_id_public": x(P256.public_key(sk_id)),
        "sector_private": x(sector_private.to_bytes(32, "big")),
        "sector_public": x(sector_public),
        "sector_identifier": x(identifier),
    }
    sent = sum(len(bytes.fromhex(s.get("protected_command", s["command"]))) for s in channel.steps)
    received = sum(
        len(bytes.fromhex(s.get("protected_response", s["response"]))) for s in channel.steps
    )
    return {
        "totals": {"apdus": len(channel.steps), "bytes_sent": sent, "bytes_received": received},
        "pace": pace_vector,
        "terminal_authentication": ta_vector,
        "chip_authentication": ca_vector,
        "restricted_identification": ri_vector,
        "apdus": channel.steps,
    }


def build() -> dict[str, Any]:
    certs = certificates()
    return {
        "description": "EAC on P-256 with AES-128 (specs/eac.md): one desk read, every step",
        "curve": "secp256r1 (standardized domain parameter 12)",
        "ef_card_access": x(CardAccess().encode()),
        "certificates": certs,
        **transcript(certs),
    }


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2) + "\n"


def main() -> int:
    (HERE / "eac_vectors.json").write_text(dump(build()), encoding="utf-8")
    print(f"wrote {HERE / 'eac_vectors.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
