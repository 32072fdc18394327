"""Certificates against OpenPACE's tools: cvc-print reads and verifies the library's
certificates, and the library accepts chains (and link certificates) made by cvc-create."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from cityid_card.eac import CertificateSignatureError, cvc, ri
from cityid_card.eac.cvc import Rights, Role, TrustPoint
from tests.eac.pki import LIBRARY, TODAY, cvca_certificate, make_pki, public, seeded_key

RIGHTS = [
    "--read-dg3",
    "--read-dg4",
    "--read-dg8",
    "--read-dg11",
    "--verify-age",
    "--rid",
    "--at-rfu29",
]


def cvc_print(tool: str, certificate: Path, trust: Path | None = None) -> str:
    command = [tool, f"--cvc={certificate}"]
    if trust is not None:
        command.append(f"--cvc-dir={trust}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cvc_print_reads_and_verifies_every_certificate_the_library_makes(
    cvc_tools: tuple[str, str], tmp_path: Path
) -> None:
    _, show = cvc_tools
    sector = ri.sector_public_key_object(public(seeded_key("sector library")))
    pki = make_pki(extensions=(cvc.sector_extension(sector),))
    link = cvca_certificate(
        seeded_key("cvca2"), "USCHICVCA00002", signer=pki.cvca_key, car="USCHICVCA00001"
    )
    trust = tmp_path / "trust"
    trust.mkdir()
    files = {}
    for name, chr_, data in [
        ("cvca", "USCHICVCA00001", pki.cvca),
        ("dv", "USCHIDVLIB00001", pki.dv),
        ("terminal", "USCHILIBDSK00001", pki.terminal),
        ("link", "USCHICVCA00002", link),
    ]:
        (trust / chr_).write_bytes(data)
        files[name] = tmp_path / f"{name}.cvcert"
        files[name].write_bytes(data)
    terminal = cvc_print(show, files["terminal"], trust)
    assert "certificate verified" in terminal
    for line in [
        "CAR: USCHIDVLIB00001",
        "CHR: USCHILIBDSK00001",
        "Restricted Identification",
        "Read DG 3 (Date of Expiry)",
        "Read DG 4 (Given Names)",
        "Terminal certificate",
        "Effective Date: 2026-12-01",
        "Expiration Date: 2027-03-01",
    ]:
        assert line in terminal
    assert "Read DG 8" not in terminal and "Age Verification" not in terminal
    assert "CVCA certificate" in cvc_print(show, files["cvca"], trust)
    assert "certificate verified" in cvc_print(show, files["dv"], trust)
    assert "certificate verified" in cvc_print(show, files["link"], trust)


def test_cvc_print_flags_a_forged_certificate(cvc_tools: tuple[str, str], tmp_path: Path) -> None:
    _, show = cvc_tools
    pki = make_pki()
    forged = cvc.sign_certificate(cvc.parse_certificate(pki.terminal).body, seeded_key("mallory"))
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "USCHICVCA00001").write_bytes(pki.cvca)
    (trust / "USCHIDVLIB00001").write_bytes(pki.dv)
    path = tmp_path / "forged.cvcert"
    path.write_bytes(forged)
    assert "certificate verified" not in cvc_print(show, path, trust)


def _key_file(path: Path, label: str) -> Path:
    der = seeded_key(label).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(der)
    return path


def cvc_create(tool: str, *arguments: str) -> None:
    result = subprocess.run(
        [tool, "--scheme=ECDSA_SHA_256", "--issued=261201", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def created_chain(
    cvc_tools: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    create, _ = cvc_tools
    d = tmp_path_factory.mktemp("cvc-create")
    cvca_key = _key_file(d / "cvca.pkcs8", "op-cvca")
    cvc_create(
        create,
        "--role=cvca",
        "--type=at",
        "--chr=USCHICVCA00001",
        "--expires=301201",
        f"--sign-with={cvca_key}",
        f"--out-cert={d / 'cvca.cvcert'}",
        *RIGHTS,
    )
    cvc_create(
        create,
        "--role=dv_domestic",
        "--chr=USCHIDVLIB00001",
        "--expires=281201",
        f"--sign-with={cvca_key}",
        f"--sign-as={d / 'cvca.cvcert'}",
        f"--key={_key_file(d / 'dv.pkcs8', 'op-dv')}",
        f"--out-cert={d / 'dv.cvcert'}",
        *RIGHTS,
    )
    cvc_create(
        create,
        "--role=terminal",
        "--chr=USCHILIBDSK00001",
        "--expires=270301",
        f"--sign-with={d / 'dv.pkcs8'}",
        f"--sign-as={d / 'dv.cvcert'}",
        f"--key={_key_file(d / 'terminal.pkcs8', 'op-terminal')}",
        f"--out-cert={d / 'terminal.cvcert'}",
        "--read-dg3",
        "--read-dg4",
        "--rid",
    )
    cvc_create(
        create,
        "--role=cvca",
        "--type=at",
        "--chr=USCHICVCA00002",
        "--expires=321201",
        f"--sign-with={cvca_key}",
        f"--sign-as={d / 'cvca.cvcert'}",
        f"--key={_key_file(d / 'cvca2.pkcs8', 'op-cvca2')}",
        f"--out-cert={d / 'link.cvcert'}",
        *RIGHTS,
    )
    return {
        name: (d / f"{name}.cvcert").read_bytes() for name in ("cvca", "dv", "terminal", "link")
    }


def test_the_library_accepts_a_chain_made_by_cvc_create(created_chain: dict[str, bytes]) -> None:
    cvca = cvc.parse_certificate(created_chain["cvca"])
    assert cvca.role is Role.CVCA and cvca.body.domain_parameters
    trust = TrustPoint.from_certificate(cvca)
    terminal = cvc.verify_chain(trust, [created_chain["dv"], created_chain["terminal"]], TODAY)
    assert terminal.chr == "USCHILIBDSK00001"
    assert terminal.public_key == public(seeded_key("op-terminal"))
    assert terminal.rights == LIBRARY
    assert cvc.parse_certificate(created_chain["cvca"]).body.chat.rights == int(
        Rights.READ_EXPIRY
        | Rights.READ_NAME
        | Rights.READ_DATE_OF_BIRTH
        | Rights.READ_GENDER
        | Rights.AGE_VERIFICATION
        | Rights.RESTRICTED_IDENTIFICATION
        | Rights.VALIDITY
    )
    # Re-encoding what was parsed gives cvc-create's bytes: one encoding per certificate.
    for name in ("cvca", "dv", "terminal", "link"):
        parsed = cvc.parse_certificate(created_chain[name])
        assert parsed.body.encode() == parsed.body_bytes


def test_the_library_follows_a_cvc_create_link_certificate(created_chain: dict[str, bytes]) -> None:
    old = TrustPoint.from_certificate(cvc.parse_certificate(created_chain["cvca"]))
    new = cvc.import_link_certificate(old, created_chain["link"])
    assert new.chr == "USCHICVCA00002" and new.expires == date(2032, 12, 1)
    assert new.public_key == public(seeded_key("op-cvca2"))


def test_a_tampered_cvc_create_certificate_is_rejected(created_chain: dict[str, bytes]) -> None:
    trust = TrustPoint.from_certificate(cvc.parse_certificate(created_chain["cvca"]))
    body = cvc.parse_certificate(created_chain["terminal"]).body
    upgraded = replace(body, chat=replace(body.chat, rights=int(Rights.READ_DATE_OF_BIRTH)))
    forged = cvc.sign_certificate(upgraded, seeded_key("mallory"))
    with pytest.raises(CertificateSignatureError):
        cvc.verify_chain(trust, [created_chain["dv"], forged], TODAY)
