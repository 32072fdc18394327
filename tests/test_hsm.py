"""Issuer keys in a PKCS#11 token, on SoftHSM2: a real token in software.

A throwaway token is made in a temporary folder for the session (SOFTHSM2_CONF points
at a configuration whose token directory is that folder); keys are made inside it, and
what they sign is checked by our verifier and by two independent COSE libraries.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import cbor2
import cwt
import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from cityid_card import (
    InvalidKey,
    IssuerKey,
    KeyOutsideValidity,
    MissingExtra,
    PublicKey,
    StatusListToken,
    StatusRegistry,
    StatusValue,
    TrustStore,
    cose,
    keyfiles,
    sign_status_list,
    verify,
)
from cityid_card import hsm as hsm_module
from cityid_card.cli import main
from cityid_card.hsm import (
    DEFAULT_MODULE,
    KeyUri,
    Pkcs11Signer,
    TokenError,
    TokenNotFound,
    TokenPinError,
    TokenPinRequired,
    TokenUnsupported,
    list_tokens,
)
from cityid_card.signer import LocalSigner

from .conftest import NOW, OTHER_TOKEN, PIN, TOKEN, sample_credential


@pytest.fixture
def token_key(softhsm: Path, alg: str, request: pytest.FixtureRequest) -> Iterator[IssuerKey]:
    """A fresh key made inside the token, open, with a unique label."""
    label = f"{request.node.name}-{alg}"
    uri = f"pkcs11:token={TOKEN};object={label}"
    with IssuerKey.generate_in_token(uri, alg, pin=PIN, kid=label) as key:  # type: ignore[arg-type]
        yield key


def _uri(key: IssuerKey) -> str:
    assert key.uri is not None
    return key.uri


def _raw_session(token: str = TOKEN) -> Any:
    """A read-write session straight through python-pkcs11, to look at or plant objects."""
    found = pkcs11.lib(DEFAULT_MODULE).get_token(token_label=token)
    try:
        return found.open(rw=True, user_pin=PIN)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        # A key of this process is logged in: share its login, and leave it logged in.
        return found.open(rw=True)


# ---------------------------------------------------------------------------------------
# Issuing through the token


def test_token_key_issues_credentials_anyone_verifies(token_key: IssuerKey, alg: str) -> None:
    assert token_key.alg == alg and token_key.in_token
    blob = token_key.issue(sample_credential())
    trust = TrustStore([token_key.public()])
    verified = verify(blob, trust, now=NOW)
    assert verified.credential == sample_credential()
    assert verified.kid == token_key.kid and verified.alg == alg
    # The same size as from a key in memory: a token signature is 64 bytes too.
    assert len(blob) == len(IssuerKey.generate(alg).issue(sample_credential()))

    # python-cwt, with nothing but the public key as published in the trust store.
    public = PublicKey.from_jwk(json.loads(json.dumps(token_key.public().to_jwk())))
    pem = public.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cose_key = cwt.COSEKey.from_pem(pem, kid=public.wire_kid)
    assert cbor2.loads(cwt.COSE.new().decode(b"\xd2" + blob, cose_key)) == (
        sample_credential().to_claims()
    )
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(cwt.VerifyError):
        cwt.COSE.new().decode(b"\xd2" + tampered, cose_key)


def test_token_key_signs_status_lists(token_key: IssuerKey) -> None:
    registry = StatusRegistry.for_key(token_key, 64, 2)
    registry.set(5, StatusValue.INVALID)
    token = sign_status_list(token_key, registry, issued_at=NOW)
    listed = StatusListToken.from_bytes(token, TrustStore([token_key.public()]))
    assert listed.kid == token_key.kid
    assert (listed.status_of(5), listed.status_of(6)) == (StatusValue.INVALID, StatusValue.VALID)


def test_token_key_is_found_again_by_uri(token_key: IssuerKey, alg: str) -> None:
    uri = _uri(token_key)
    assert "pin" not in uri and PIN not in uri
    with IssuerKey.from_uri(uri, pin=PIN, kid="again") as again:
        assert again.public().wire_kid == token_key.public().wire_kid
        assert again.alg == alg
        blob = again.issue(sample_credential())
    assert verify(blob, TrustStore([token_key.public()]), now=NOW).kid == token_key.kid


def test_the_private_key_never_leaves_the_token(token_key: IssuerKey) -> None:
    with pytest.raises(InvalidKey, match="cannot be exported"):
        token_key.to_pem()
    parsed = KeyUri.parse(_uri(token_key))
    with _raw_session() as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY, label=parsed.object)
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.LOCAL] is True  # made inside the token
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DERIVE] is False


def test_es256_token_signatures_are_randomised_and_valid(softhsm: Path) -> None:
    # Tokens do not sign deterministically (RFC 6979 is a SHOULD): two signatures of
    # the same claims differ, and both verify.
    with IssuerKey.generate_in_token(
        f"pkcs11:token={TOKEN};object=randomised", "ES256", pin=PIN
    ) as key:
        first, second = key.issue(sample_credential()), key.issue(sample_credential())
        trust = TrustStore([key.public()])
    assert first != second and first[:-64] == second[:-64]
    assert verify(first, trust, now=NOW) == verify(second, trust, now=NOW)


def test_two_keys_on_one_token_share_the_login(softhsm: Path) -> None:
    one = IssuerKey.generate_in_token(f"pkcs11:token={TOKEN};object=shared-1", "ES256", pin=PIN)
    two = IssuerKey.generate_in_token(f"pkcs11:token={TOKEN};object=shared-2", "EdDSA", pin=PIN)
    one.close()  # logging this one out must not log the other out
    blob = two.issue(sample_credential())
    two.close()
    assert verify(blob, TrustStore([two.public()]), now=NOW).alg == "EdDSA"
    with pytest.raises(TokenError, match="closed"):
        two.issue(sample_credential())


def test_keygen_refuses_to_replace_a_key(token_key: IssuerKey) -> None:
    label = KeyUri.parse(_uri(token_key)).object
    with pytest.raises(TokenError, match="already holds an object with this label"):
        IssuerKey.generate_in_token(f"pkcs11:token={TOKEN};object={label}", "ES256", pin=PIN)


def test_a_mismatched_public_object_never_signs_a_card(softhsm: Path) -> None:
    # A token whose public key object does not belong to the private key: every
    # signature is checked before it is used, so no card that fails is ever issued.
    with _raw_session() as session:
        params = encode_named_curve_parameters("secp256r1")
        session.generate_keypair(
            KeyType.EC, store=True, label="half-a", id=b"\xa1",
            public_template={Attribute.EC_PARAMS: params},
        )  # fmt: skip
        public_b, _ = session.generate_keypair(
            KeyType.EC, store=True, label="half-b", id=b"\xb1",
            public_template={Attribute.EC_PARAMS: params},
        )  # fmt: skip
        session.get_key(ObjectClass.PUBLIC_KEY, id=b"\xa1").destroy()
        public_b[Attribute.ID] = b"\xa1"
    with (
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};id=%a1", pin=PIN) as key,
        pytest.raises(TokenError, match="does not verify under its public key"),
    ):
        key.issue(sample_credential())


# ---------------------------------------------------------------------------------------
# What goes wrong, and says so


def test_wrong_pin(token_key: IssuerKey) -> None:
    uri = _uri(token_key)
    token_key.close()  # no login left in this process
    with pytest.raises(TokenPinError, match="incorrect") as caught:
        IssuerKey.from_uri(uri, pin="0000-0000")
    assert "0000-0000" not in str(caught.value)


def test_no_pin(softhsm: Path) -> None:
    with pytest.raises(TokenPinRequired, match="needs a PIN"):
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};object=anything")


def test_missing_token(softhsm: Path) -> None:
    with pytest.raises(TokenNotFound, match="no token 'nowhere'"):
        IssuerKey.from_uri("pkcs11:token=nowhere;object=x", pin=PIN)


def test_missing_object(softhsm: Path) -> None:
    with pytest.raises(TokenNotFound, match="holds no private key object 'nothing'"):
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};object=nothing", pin=PIN)
    with pytest.raises(TokenNotFound, match="holds no private key id 0102"):
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};id=%01%02", pin=PIN)


def test_missing_module(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match=r"no PKCS#11 module at /nowhere/p11\.so"):
        IssuerKey.from_uri("pkcs11:token=x;object=y?module-path=/nowhere/p11.so&pin-value=1")
    (tmp_path / "not-a-module.so").write_bytes(b"not an ELF file")
    with pytest.raises(TokenError, match="cannot be loaded as a PKCS#11 module"):
        IssuerKey.from_uri(f"pkcs11:object=y?module-path={tmp_path}/not-a-module.so", pin="1")


@pytest.mark.parametrize(
    ("key_type", "params", "expected"),
    [
        (KeyType.RSA, None, "of type RSA"),
        (KeyType.EC, "secp384r1", "curve other than P-256"),
    ],
)
def test_wrong_key_type(
    softhsm: Path, key_type: KeyType, params: str | None, expected: str
) -> None:
    label = f"wrong-{expected.split()[-1]}"
    with _raw_session() as session:
        if params is None:
            session.generate_keypair(key_type, 2048, store=True, label=label)
        else:
            session.generate_keypair(
                key_type, store=True, label=label,
                public_template={Attribute.EC_PARAMS: encode_named_curve_parameters(params)},
            )  # fmt: skip
    with pytest.raises(TokenUnsupported, match=expected):
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};object={label}", pin=PIN)
    with pytest.raises(InvalidKey):  # the same family as a bad key file
        IssuerKey.from_uri(f"pkcs11:token={TOKEN};object={label}", pin=PIN)


def test_a_token_without_eddsa_is_refused_clearly() -> None:
    # SoftHSM2 2.6 offers CKM_EDDSA; a token that does not (many HSMs) is refused with
    # a typed error naming the mechanism, before anything is signed.
    without = {Mechanism.ECDSA, Mechanism.EC_KEY_PAIR_GEN}
    with pytest.raises(TokenUnsupported, match="cannot sign with EdDSA: it offers no CKM_EDDSA"):
        hsm_module._mechanism("EdDSA", without)
    assert hsm_module._mechanism("ES256", without) == (Mechanism.ECDSA, True)
    assert hsm_module._mechanism("ES256", {Mechanism.ECDSA_SHA256}) == (
        Mechanism.ECDSA_SHA256,
        False,
    )
    with pytest.raises(TokenUnsupported, match="no CKM_ECDSA"):
        hsm_module._mechanism("ES256", {Mechanism.EDDSA})


def test_softhsm_signs_both_algorithms(softhsm: Path) -> None:
    (token,) = list_tokens(token=TOKEN)
    assert token.algorithms == ("ES256", "EdDSA")
    assert token.keys is None  # private objects stay hidden without a PIN


# ---------------------------------------------------------------------------------------
# Loading from where keys are kept (cityid_card.keyfiles, the edge)


def test_load_takes_a_file_or_a_uri(tmp_path: Path, softhsm: Path) -> None:
    local = IssuerKey.generate("EdDSA")
    keyfiles.save_key(local, tmp_path / "key.pem", "pw")
    assert keyfiles.load_key(tmp_path / "key.pem", b"pw").public() == local.public()
    assert not local.in_token and local.uri is None
    with (
        IssuerKey.generate_in_token(
            f"pkcs11:token={TOKEN};object=loaded", "ES256", pin=PIN
        ) as made,
        keyfiles.load_key(_uri(made), PIN.encode()) as loaded,
    ):
        assert loaded.in_token and loaded.public().key == made.public().key
    # The PIN from a pin-source file, then from the environment; the module from it too.
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    with keyfiles.load_key(f"{_uri(made)}?pin-source=file:{pin_file}") as loaded:
        assert loaded.public().key == made.public().key
    env = {keyfiles.PIN_ENV: PIN, keyfiles.MODULE_ENV: DEFAULT_MODULE}
    with keyfiles.load_key(_uri(made), environ=env) as loaded:
        assert loaded.public().key == made.public().key
    with pytest.raises(TokenError, match="no PKCS#11 module at /nowhere"):
        keyfiles.load_key(_uri(made), environ={**env, keyfiles.MODULE_ENV: "/nowhere/p11.so"})


def test_the_core_reads_no_pin_file_and_no_environment(
    softhsm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # IssuerKey.from_uri and hsm are sans-I/O for PINs: a pin-source is the edge's to
    # read (keyfiles.load_key), and $CITYID_CARD_PKCS11_PIN is never looked at.
    monkeypatch.setenv(keyfiles.PIN_ENV, PIN)
    with IssuerKey.generate_in_token(f"pkcs11:token={TOKEN};object=no-env", pin=PIN) as made:
        uri = _uri(made)
    made.close()
    with pytest.raises(TokenPinRequired, match="needs a PIN"):
        IssuerKey.from_uri(uri)
    (tmp_path / "pin").write_text(PIN)
    with pytest.raises(TokenPinRequired, match="pin-source"):
        IssuerKey.from_uri(f"{uri}?pin-source=file:{tmp_path / 'pin'}")


# ---------------------------------------------------------------------------------------
# The signer abstraction


class _ShortSigner:
    """A signer that breaks its contract: cose.sign1 must not build a message from it."""

    def __init__(self) -> None:
        self._local = LocalSigner(IssuerKey.generate("ES256")._key)

    @property
    def uri(self) -> str | None:
        return "test:short"

    @property
    def alg(self) -> Any:
        return self._local.alg

    def public_key(self) -> Any:
        return self._local.public_key()

    def sign(self, message: bytes) -> bytes:
        return self._local.sign(message)[:63]

    def close(self) -> None:
        pass


def test_sign1_refuses_a_signature_that_is_not_64_bytes() -> None:
    with pytest.raises(InvalidKey, match="not 64 bytes"):
        cose.sign1(b"payload", _ShortSigner())


def test_issuer_key_over_any_signer(softhsm: Path) -> None:
    with IssuerKey.generate_in_token(
        f"pkcs11:token={TOKEN};object=signer-only", "EdDSA", pin=PIN
    ) as made:
        uri = _uri(made)
    signer = Pkcs11Signer.open(uri, pin=PIN)
    with IssuerKey(signer, kid="K", valid_until=date(2030, 1, 1)) as key:
        assert key.uri == signer.uri == uri
        assert key.public() == PublicKey("K", "EdDSA", signer.public_key(), None, date(2030, 1, 1))
        blob = key.issue(sample_credential())
    assert verify(blob, TrustStore([key.public()]), now=NOW).kid == "K"
    assert "pin" not in repr(signer)


# ---------------------------------------------------------------------------------------
# The command line


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("cli_alg", ["ES256", "EdDSA"])
def test_cli_keygen_issue_verify_through_the_token(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_alg: str
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    trust, card = tmp_path / "trust.json", tmp_path / "card.cbor"
    uri = f"pkcs11:token={TOKEN};object=CHI-CLI-{cli_alg}"
    status, out, err = _run(capsys, "hsm", "keygen", "--key", uri, "--alg", cli_alg,
                            "--trust", str(trust), "--pin-file", str(pin_file), "--json")  # fmt: skip
    assert (status, err) == (0, "")
    made = json.loads(out)
    assert made["kid"] == f"CHI-CLI-{cli_alg}" and made["alg"] == cli_alg
    assert made["key"].startswith(uri + ";id=") and PIN not in out
    assert [key.kid for key in TrustStore.load(trust)] == [f"CHI-CLI-{cli_alg}"]

    key_uri = f"{uri}?pin-source=file:{pin_file}"
    status, out, err = _run(capsys, "issue", "--key", key_uri, "--name", "Ana Sofia Rivera Delgado",
                            "--dob", "1990-04-12", "--expires", "2031-11-20", "--issued", "2026-11-21",
                            "--status-index", "7", "--out", str(card))  # fmt: skip
    assert (status, err) == (0, "")
    assert out == f"wrote {card}: 116 bytes, {cli_alg}, status index 7\n"  # 120 with a 5-byte index
    status, out, _ = _run(capsys, "verify", str(card), "--trust", str(trust), "--at", "2027-01-01")
    assert status == 0 and out.startswith(f"VALID  {cli_alg}, issuer key CHI-CLI-{cli_alg}")

    # A pin in the environment, and the status list commands, take the same URI.
    registry, signed = tmp_path / "registry.json", tmp_path / "status.cwt"
    os.environ[keyfiles.PIN_ENV] = PIN
    try:
        assert _run(capsys, "status-list", "build", "--key", uri, "--size", "64", "--out", str(registry))[0] == 0  # fmt: skip
        assert _run(capsys, "status-list", "sign", "--key", uri, "--registry", str(registry), "--out", str(signed))[0] == 0  # fmt: skip
    finally:
        del os.environ[keyfiles.PIN_ENV]
    status, out, _ = _run(capsys, "verify", str(card), "--trust", str(trust), "--status-list", str(signed))  # fmt: skip
    assert status == 0 and "status valid" in out


def test_cli_errors_are_one_line_and_typed(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("0000\n")
    args = ["issue", "--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12",
            "--expires", "2031-11-20", "--status-index", "7", "--out", str(tmp_path / "card.cbor")]  # fmt: skip
    cases = [
        (f"pkcs11:token={TOKEN};object=nothing", "--passphrase-file", str(wrong), "TokenPinError"),
        ("pkcs11:token=absent;object=x?pin-value=1", None, None, "TokenNotFound"),
        ("pkcs11:token=t;objekt=x", None, None, "TokenError"),
    ]
    for uri, flag, value, kind in cases:
        extra = [flag, value] if flag and value else []
        status, out, err = _run(capsys, *args, "--key", uri, *extra)
        assert status == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("error: ") and err.endswith(f"({kind})\n")
        assert "Ana" not in err and "0000" not in err
    assert not (tmp_path / "card.cbor").exists()


def test_cli_keygen_refuses_a_kid_already_trusted(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "trust.json"
    TrustStore([IssuerKey.generate("ES256", "CHI-TAKEN").public()]).save(trust)
    status, _, err = _run(capsys, "hsm", "keygen", "--key",
                          f"pkcs11:token={TOKEN};object=CHI-TAKEN?pin-value={PIN}", "--trust", str(trust))  # fmt: skip
    assert status == 2 and "already has a key 'CHI-TAKEN'" in err
    with _raw_session() as session:  # nothing was made in the token
        assert not list(session.get_objects({Attribute.LABEL: "CHI-TAKEN"}))


def test_cli_hsm_list(softhsm: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with IssuerKey.generate_in_token(f"pkcs11:token={OTHER_TOKEN};object=listed", "EdDSA", pin=PIN):
        pass
    status, out, _ = _run(capsys, "hsm", "list", "--token", OTHER_TOKEN)
    assert status == 0 and f"token '{OTHER_TOKEN}'" in out and "signs ES256, EdDSA" in out
    assert "give --passphrase-file" in out
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN)
    status, out, _ = _run(capsys, "hsm", "list", "--token", OTHER_TOKEN, "--pin-file", str(pin_file), "--json")  # fmt: skip
    listed = json.loads(out)
    assert status == 0 and PIN not in out
    (token,) = listed["tokens"]
    assert token["label"] == OTHER_TOKEN and token["algorithms"] == ["ES256", "EdDSA"]
    (key,) = token["keys"]
    assert key["label"] == "listed" and key["alg"] == "EdDSA" and key["problem"] is None
    with IssuerKey.from_uri(key["uri"], pin=PIN) as again:
        assert again.alg == "EdDSA"


def test_cli_personalize_signs_in_the_token(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every command that signs takes the key URI, the card commands too.
    trust = tmp_path / "trust.json"
    uri = f"pkcs11:token={TOKEN};object=CHI-CARD?pin-value={PIN}"
    assert _run(capsys, "hsm", "keygen", "--key", uri, "--trust", str(trust))[0] == 0
    reader = f"sim:card:{tmp_path / 'card.json'}"
    status, out, err = _run(capsys, "personalize", "--generation", "1", "--reader", reader, "--key", uri,
                            "--name", "Ana Sofia Rivera Delgado", "--dob", "1990-04-12",
                            "--expires", "2031-11-20", "--status-index", "7", "--lock", "--json")  # fmt: skip
    assert (status, err) == (0, "")
    assert json.loads(out)["authenticity"] == "chip_authenticated"
    status, out, _ = _run(capsys, "verify", "--reader", reader, "--trust", str(trust))
    assert status == 0 and out.startswith("VALID  ES256, issuer key CHI-CARD")


def test_without_python_pkcs11_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "cityid_card.hsm", None)  # as if pkcs11 were missing
    with pytest.raises(MissingExtra, match=r"cityid-card\[hsm\]"):
        IssuerKey.from_uri("pkcs11:token=t;object=k")
    with pytest.raises(MissingExtra, match=r"cityid-card\[hsm\]"):
        IssuerKey.generate_in_token("pkcs11:token=t;object=k")
    status, _, err = _run(capsys, "hsm", "list")
    assert status == 2 and "pip install 'cityid-card[hsm]'" in err


# ---------------------------------------------------------------------------------------
# The issuing window on the token key, and PINs


def test_the_window_is_stored_on_the_token_key(softhsm: Path) -> None:
    uri = f"pkcs11:token={TOKEN};object=windowed"
    with IssuerKey.generate_in_token(
        uri, "ES256", pin=PIN, valid_from=date(2020, 1, 1), valid_until=date(2020, 12, 31)
    ) as made:
        located = _uri(made)
    with _raw_session() as session:  # the standard PKCS#11 attributes
        # (on both halves; SoftHSM 2.6 cannot read them back from a private key object)
        stored = session.get_key(ObjectClass.PUBLIC_KEY, label="windowed")
        assert stored[Attribute.START_DATE] == date(2020, 1, 1)
        assert stored[Attribute.END_DATE] == date(2020, 12, 31)
    with IssuerKey.from_uri(located, pin=PIN) as key:
        assert key.kid == "windowed"  # the label, as a key file carries its kid
        assert (key.public().valid_from, key.public().valid_until) == (
            date(2020, 1, 1), date(2020, 12, 31),
        )  # fmt: skip
        with pytest.raises(KeyOutsideValidity, match="until 2020-12-31"):
            key.issue(sample_credential())
        assert key.issue(sample_credential(issued=date(2020, 6, 1)))
    with pytest.raises(TokenError, match="after"):
        IssuerKey.generate_in_token(
            f"pkcs11:token={TOKEN};object=backwards", pin=PIN,
            valid_from=date(2021, 1, 1), valid_until=date(2020, 1, 1),
        )  # fmt: skip


def test_a_key_without_dates_has_an_open_window(token_key: IssuerKey) -> None:
    assert (token_key.public().valid_from, token_key.public().valid_until) == (None, None)


def test_cli_hsm_keygen_window_stops_issue(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust, card = tmp_path / "trust.json", tmp_path / "card.cbor"
    uri = f"pkcs11:token={TOKEN};object=CHI-RETIRED?pin-value={PIN}"
    status, _, err = _run(capsys, "hsm", "keygen", "--key", uri, "--trust", str(trust),
                          "--valid-until", "2020-12-31")  # fmt: skip
    assert (status, err) == (0, "")
    status, out, err = _run(capsys, "issue", "--key", uri, "--name", "Ana Sofia Rivera Delgado",
                            "--dob", "1990-04-12", "--expires", "2031-11-20", "--status-index", "7",
                            "--out", str(card))  # fmt: skip
    assert (status, out) == (2, "") and err.endswith("(KeyOutsideValidity)\n")
    assert err.count("\n") == 1 and not card.exists()


def test_cli_token_pin_missing_or_typed(
    softhsm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    trust = tmp_path / "trust.json"
    uri = f"pkcs11:token={TOKEN};object=CHI-TYPED"
    status, _, err = _run(capsys, "hsm", "keygen", "--key", uri, "--trust", str(trust))
    assert status == 2
    assert err == (
        f"error: token '{TOKEN}' needs a PIN: give --passphrase-file, pin-source= in the key "
        f"URI or ${keyfiles.PIN_ENV}, or type the PIN (TokenPinRequired)\n"
    )
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return PIN

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", typed)
    assert _run(capsys, "hsm", "keygen", "--key", uri, "--trust", str(trust))[0] == 0
    assert prompts == [f"PIN for token '{TOKEN}': "]
