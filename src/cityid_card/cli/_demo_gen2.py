"""``cityid-card demo``, generation 2: the chip card the library makes by default.

In memory only, with throwaway keys: a city root (CVCA) and, under it, a document
verifier and a terminal for each service; a card personalised on the emulated chip
(``sim:card``) with a random CAN, printed as on its face. Then what the privacy design
promises, each computed on that card: a skimmer without the CAN sees what every card
shows alike and gets nothing for a wrong CAN; each service's terminal learns exactly
its role's fields; two services get pseudonyms that cannot be linked, the same service
the same one every time; a terminal certified by another root is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cityid_card.credential import Credential
from cityid_card.drivers import SimConnection, SimDriver
from cityid_card.eac import P256, commands, cvc, pace
from cityid_card.eac.cvc import Rights
from cityid_card.eac.sm import Apdu, encode_apdu
from cityid_card.errors import CityIDError
from cityid_card.iso7816.gen2 import (
    Holder,
    TerminalAccess,
    disclose,
    make_batch,
    new_can,
    personalize_gen2,
)
from cityid_card.iso7816.gen2.channel import LinkProcessor
from cityid_card.iso7816.gen2.constants import SFI_CARD_ACCESS
from cityid_card.iso7816.gen2.pki import ROLES, CityPki, make_city_pki
from cityid_card.iso7816.gen2.terminal import pace_with_can
from cityid_card.iso7816.vpcd import VpcdCard
from cityid_card.keys import IssuerKey
from cityid_card.trust import TrustStore

__all__ = ["AGE", "ROLE_ORDER", "generation_2", "print_generation_2"]

#: The services the demo certifies a terminal for, in the order it shows them.
ROLE_ORDER = ("library", "museum", "transit", "age-check", "benefits")
#: The age the demo's age-check terminal asks about.
AGE = 21
_CITY = "USDEMO"  # the certificate references' country code and city mnemonic
_OTHER_HOLDER = Holder("Li Wei", date(2010, 6, 1), date(2036, 12, 31))


def generation_2(today: date, credential: Credential) -> dict[str, Any]:
    """Run the generation-2 story for ``credential``'s holder; return its facts (JSON-able).

    The CAN is in the facts: the card face prints it, and this card is thrown away.
    """
    issuer = IssuerKey.generate("ES256", kid="DEMO-GEN2")
    trust = TrustStore([issuer.public()])
    city = make_city_pki(_CITY, today)
    batch = make_batch(city.cvca, P256.random_scalar(), issuer)
    holder = Holder(
        credential.name, credential.date_of_birth, credential.expires, credential.gender
    )
    card, can = SimDriver().card(), new_can()
    done = personalize_gen2(card, holder, batch, can=can, today=today)
    card.close()  # out of the personalisation station
    other = SimDriver().card()  # another holder's card of the same batch
    personalize_gen2(other, _OTHER_HOLDER, batch, can=new_can(), today=today)
    other.close()
    skimmer = _skimmer(card, other, can, holder)
    terminals = {role: _terminal(city, role, today) for role in ROLE_ORDER}
    reads = [_read(card, terminals[role], can, today, trust) for role in ROLE_ORDER]
    again = _read(card, _terminal(city, "museum", today, sequence=2), can, today, trust)
    pseudonyms = {read["role"]: read["fields"].get("pseudonym") for read in reads}
    return {
        "reader": card.reader,
        "city_root": city.cvca_chr,
        "issuer_kid": issuer.kid,
        "terminals": {role: terminal.reference for role, terminal in terminals.items()},
        "can": can,
        "apdus_personalize": done.apdus,
        "skimmer": skimmer,
        "reads": reads,
        "museum_again": again,
        "library_museum_pseudonyms_differ": pseudonyms["library"] != pseudonyms["museum"],
        "museum_pseudonym_stable": again["fields"].get("pseudonym") == pseudonyms["museum"],
        "forged_terminal": _forged(card, city, can, today, trust),
    }


@dataclass(frozen=True)
class _Terminal:
    """A terminal of the demo: what it holds, and its certificate reference to show."""

    reference: str
    access: TerminalAccess = field(repr=False)


def _terminal(city: CityPki, role: str, today: date, *, sequence: int = 1) -> _Terminal:
    """A fresh DV and terminal certificate for ``role`` under ``city``."""
    age = AGE if ROLES[role] & Rights.AGE_VERIFICATION else None
    access = city.terminal(role, today, age=age, sequence=sequence)
    reference = cvc.parse_certificate(access.terminal_certificate).body.chr
    return _Terminal(reference, access)


def _read(
    card: SimConnection, terminal: _Terminal, can: str, today: date, trust: TrustStore
) -> dict[str, Any]:
    """One terminal's session with the card (:func:`disclose`): its fields and its cost."""
    card.insert()  # a tap at this terminal: the card powers up afresh
    result = disclose(card, terminal.access, can, today=today, trust=trust, reader=card.reader)
    return {
        "role": result.role,
        "terminal": terminal.reference,
        "fields": result.as_json(),
        "authenticity": result.authenticity.name.lower(),
        "issuer": result.issuer,
        "apdus": result.facts.exchanges,
    }


class _Recorder:
    """The skimmer's link: every answer it got, and the last status word."""

    def __init__(self, card: SimConnection) -> None:
        self._link = LinkProcessor(card)
        self.answers = bytearray()
        self.last_sw = 0

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self._link.send(apdu)
        self.answers += data
        self.last_sw = sw
        return data, sw


def _atr(card: SimConnection) -> bytes:
    """The answer to reset the emulated card gives a PC/SC reader (through vpcd)."""
    reply = VpcdCard(card.application).receive(b"\x00\x01\x04")  # vpcd: send the ATR
    return reply[2:]


def _card_access(link: _Recorder) -> bytes:
    """EF.CardAccess, which any reader may read: the card's PACE parameters."""
    data, _ = link.send(encode_apdu(Apdu(0x00, 0xB0, 0x80 | SFI_CARD_ACCESS, 0x00, ne=256)))
    return data


def _skimmer(card: SimConnection, other: SimConnection, can: str, holder: Holder) -> dict[str, Any]:
    """What a reader without the CAN learns: what every card shows, and no answer to a guess."""
    skimmer, bystander = _Recorder(card), _Recorder(other)
    card_access = _card_access(skimmer)
    wrong = f"{(int(can) + 1) % 10**6:06d}"
    try:
        pace_with_can(skimmer, wrong, secrets.token_bytes)
        wrong_can = "nothing: PACE with a wrong CAN worked"
    except CityIDError as error:
        wrong_can = type(error).__name__
    wrong_sw = skimmer.last_sw
    oid = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    skimmer.send(commands.mse_set_at(commands.MSE_PACE, pace.mse_set_at(oid)))
    _, malformed_sw = skimmer.send(commands.general_authenticate(b"\x7c\x02\xff\x00", last=False))
    card.close()  # the skimmer walks away: the card is powered down
    personal = (holder.name.encode("utf-8"), holder.date_of_birth.strftime("%Y%m%d").encode())
    return {
        "atr": _atr(card).hex(),
        "same_atr": _atr(card) == _atr(other),
        "card_access_bytes": len(card_access),
        "same_card_access": card_access == _card_access(bystander),
        "wrong_can": wrong_can,
        "wrong_can_status": f"{wrong_sw:04X}",
        "malformed_status": f"{malformed_sw:04X}",
        "answer_bytes": len(skimmer.answers),
        "personal_bytes": any(value in skimmer.answers for value in personal),
    }


def _forged(
    card: SimConnection, city: CityPki, can: str, today: date, trust: TrustStore
) -> dict[str, Any]:
    """A terminal certified by another root that copies the city root's name, with the CAN."""
    forger = make_city_pki(city.holder, today)  # same CHR, another key
    try:
        access = _terminal(forger, "benefits", today).access
        card.insert()
        result = disclose(card, access, can, today=today, trust=trust)
        return {"refused": False, "error": None, "fields": sorted(result.as_json())}
    except CityIDError as error:
        return {"refused": True, "error": type(error).__name__, "message": str(error)}
    finally:
        card.close()


def _show(key: str, value: Any) -> str:
    """One disclosed field as the demo prints it."""
    if key.startswith("age_over_"):
        return f"at least {key.removeprefix('age_over_')}: {'yes' if value else 'NO'}"
    if isinstance(value, bool):
        value = "yes" if value else "NO"
    elif key == "pseudonym" and isinstance(value, str):
        value = value[:16] + "..."
    return f"{key.replace('_', ' ')} {value}"


def print_generation_2(facts: dict[str, Any]) -> None:
    """The generation-2 section of the demo's text output."""
    skim = facts["skimmer"]
    roles = ", ".join(f"{role} ({AGE})" if role == "age-check" else role for role in ROLE_ORDER)
    print(
        "== generation 2, the chip card the library makes by default: an emulated chip "
        f"({facts['reader']}, in memory only)"
    )
    print(f"throwaway city root {facts['city_root']} (CVCA); under it a document verifier and")
    print(f"  a terminal each for {roles}")
    print(
        f"personalised in {facts['apdus_personalize']} APDUs and closed for good; "
        f"CAN {facts['can']}, printed on the card face"
    )
    same = "the same" if skim["same_atr"] and skim["same_card_access"] else "NOT the same"
    print(
        f"a skimmer without the CAN: {same} ATR ({skim['atr']}) and EF.CardAccess "
        f"({skim['card_access_bytes']} bytes)"
    )
    print(
        f"  as another holder's card; a wrong CAN -> {skim['wrong_can']}, status "
        f"{skim['wrong_can_status']}, as for a malformed"
    )
    print(
        f"  command ({skim['malformed_status']}); {skim['answer_bytes']} bytes of answers, "
        f"{'A PERSONAL BYTE' if skim['personal_bytes'] else 'no personal byte'}"
    )
    print("each terminal, with the CAN, learns exactly its role's fields (chip authenticated):")
    for read in facts["reads"]:
        shown = ", ".join(_show(key, value) for key, value in read["fields"].items())
        print(f"  {read['role']:<10} {shown}  ({read['apdus']} APDUs)")
    differ = "differ" if facts["library_museum_pseudonyms_differ"] else "are EQUAL"
    stable = "the same" if facts["museum_pseudonym_stable"] else "ANOTHER"
    print(f"the library's and the museum's pseudonyms {differ}: they cannot link their visitors;")
    print(f"  a second museum terminal reads {stable} museum pseudonym")
    forged = facts["forged_terminal"]
    outcome = (
        f"refused, {forged['error']}: {forged['message']}" if forged["refused"] else "NOT refused"
    )
    print("a terminal certified by another root under the city root's name, with the CAN ->")
    print(f"  {outcome}")
