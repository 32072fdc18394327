"""The generation-2 card accepts a city root, DV and terminal made by OpenPACE's cvc-create."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cityid_card.drivers import SimConnection
from cityid_card.iso7816.gen2 import TerminalAccess, disclose, make_batch, personalize_gen2
from cityid_card.iso7816.gen2.chip import EmulatedCard
from tests.eac.pki import seeded_key
from tests.eac.test_openpace_cvc import _key_file, cvc_create
from tests.gen2.helpers import CAN, HOLDER, TODAY, City

READS = ["--read-dg3", "--read-dg4", "--read-dg8", "--read-dg11"]


@pytest.fixture(scope="module")
def chain(cvc_tools: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    create, _ = cvc_tools
    d: Path = tmp_path_factory.mktemp("gen2-cvc-create")
    cvca_key = _key_file(d / "cvca.pkcs8", "g2-cvca")
    common = [f"--sign-with={cvca_key}", *READS]
    cvc_create(create, "--role=cvca", "--type=at", "--chr=USNYCCVCA00001", "--expires=301201",
               f"--out-cert={d / 'cvca.cvcert'}", *common)  # fmt: skip
    cvc_create(create, "--role=dv_domestic", "--chr=USNYCDVBEN00001", "--expires=281201",
               f"--sign-as={d / 'cvca.cvcert'}", f"--key={_key_file(d / 'dv.pkcs8', 'g2-dv')}",
               f"--out-cert={d / 'dv.cvcert'}", *common)  # fmt: skip
    cvc_create(create, "--role=terminal", "--chr=USNYCBENT00001", "--expires=270301",
               f"--sign-with={d / 'dv.pkcs8'}", f"--sign-as={d / 'dv.cvcert'}",
               f"--key={_key_file(d / 'terminal.pkcs8', 'g2-terminal')}",
               f"--out-cert={d / 'terminal.cvcert'}", *READS)  # fmt: skip
    return {name: (d / f"{name}.cvcert").read_bytes() for name in ("cvca", "dv", "terminal")}


def test_a_benefits_desk_certified_by_cvc_create_reads_the_card(
    chain: dict[str, bytes], city: City
) -> None:
    card = SimConnection(EmulatedCard())
    batch = make_batch(chain["cvca"], 424242, city.issuer)
    personalize_gen2(card, HOLDER, batch, can=CAN, today=date(2026, 12, 1))
    card.insert()
    access = TerminalAccess("benefits", chain["dv"], chain["terminal"], seeded_key("g2-terminal"))
    result = disclose(card, access, CAN, today=TODAY, trust=city.trust)
    assert result.as_json() == {
        "name": HOLDER.name,
        "date_of_birth": "1990-04-12",
        "gender": "X",
        "expires": "2031-11-20",
        "valid": True,
    }
