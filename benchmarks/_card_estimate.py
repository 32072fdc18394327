"""Generation-2 card: an estimate of one transaction's time on a real card.

The emulator runs the transaction (``disclose``) once per role with counting wrappers
around the card's crypto entry points (patched in this process only, for the card's
side only: a count is taken while the card processes a command). That gives, per role,
the card-side operations: P-256 key pairs (``k*G``) and other scalar multiplications,
ECDSA verifications, AES-CBC and AES-CMAC calls, SHA-1/SHA-256 calls, random bytes,
persistent writes, and the APDUs with their bytes each way.

Each count is priced with per-operation times *published* for named Java Cards by the
JCAlgTest project (Masaryk University, CRoCS): its result files, one per card, in the
repository ``crocs-muni/jcalgtest_results`` (``_SOURCE``; the file and line of every
figure are in ``CARDS``). The transfer time comes from the ISO/IEC 14443 (contactless)
and ISO/IEC 7816-3 T=1 (contact) bit rates and framing, and a fixed per-APDU overhead
is an assumption (``APDU_OVERHEAD_MS``). ``docs/performance.md`` ("Generation 2 on a
real card (estimate)") gives the method, the assumptions and the results.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

from cityid_card.drivers import SimConnection
from cityid_card.eac import _sym, cvc, ta
from cityid_card.eac.curve import Curve
from cityid_card.iso7816.gen2 import EmulatedCard, personalize_gen2
from cityid_card.iso7816.gen2.chip import ChipState
from cityid_card.iso7816.gen2.terminal import disclose

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.gen2.helpers import CAN, HOLDER, TODAY, City  # the test suite's city

__all__ = [
    "APDU_OVERHEAD_MS",
    "CARDS",
    "LINKS",
    "OPERATIONS",
    "SHOWN",
    "Card",
    "Estimate",
    "Link",
    "Operations",
    "estimate",
    "lines",
    "measure",
    "report",
]

# --- published per-operation figures ------------------------------------------------

_SOURCE = "crocs-muni/jcalgtest_results"
_COMMIT = "76b01cf3af80623904809048b14c33f6a92065ad"
_FOLDER = "javacard/Profiles/performance"

#: The operations priced, each the JCAlgTest method it is read from ("fixed": one data
#: length; "variable": 16 to 512 bytes).
OPERATIONS = {
    "keypair": "ALG_EC_FP LENGTH_EC_FP_256 KeyPair_genKeyPair()",
    "ecdh": "ALG_EC_FP LENGTH_EC_FP_256 ALG_EC_SVDP_DH KeyAgreement_generateSecret()",
    "ecdsa_verify": "KeyPair_ALG_EC_FP KeyBuilder_LENGTH_EC_FP_256 Signature_ALG_ECDSA_SHA Signature_verify()",
    "eeprom_write": "UTIL Util_arrayCopy_RAM2EEPROM()",
    "aes_cbc": "TYPE_AES LENGTH_AES_128 ALG_AES_BLOCK_128_CBC_NOPAD Cipher_doFinal()",
    "aes_cbc_mac": "TYPE_AES LENGTH_AES_128 ALG_AES_MAC_128_NOPAD Signature_sign()",
    "sha1": "ALG_SHA MessageDigest_doFinal()",
    "sha256": "ALG_SHA_256 MessageDigest_doFinal()",
    "random": "ALG_SECURE_RANDOM RandomData_generateData()",
}

Point = tuple[int, float, int]
"""(data length in bytes, published average ms per operation, line of the file)."""


@dataclass(frozen=True)
class Card:
    """One card's published figures: operation -> points (see :data:`Point`)."""

    name: str
    fixed: str
    """The file of single-length figures (key pairs, ECDH, ECDSA, EEPROM), under _FOLDER."""
    variable: str
    """The file of per-length figures (AES, CBC-MAC, SHA, random), under _FOLDER."""
    figures: Mapping[str, tuple[Point, ...]]

    def ms(self, operation: str, length: int = 0) -> float:
        """The published time of ``operation`` on ``length`` bytes.

        The figure of the smallest measured length that holds ``length``; past the
        largest (512 bytes), that figure once per started 512 bytes.
        """
        points = sorted(self.figures[operation])
        for measured, ms, _line in points:
            if length <= measured or measured < 0:
                return ms
        largest, ms, _line = points[-1]
        return ms * math.ceil(length / largest)


def _card(name: str, fixed: str, variable: str, **figures: tuple[Point, ...]) -> Card:
    return Card(name, "fixed/" + fixed, "variable/" + variable, figures)


_LENGTHS = (16, 32, 64, 128, 256, 512)


def _per_length(lines: tuple[int, ...], values: tuple[float, ...]) -> tuple[Point, ...]:
    return tuple(zip(_LENGTHS, values, lines, strict=True))


# Copied from the result files (operation stats: "avg op", ms; operation info: data
# length); -1 is JCAlgTest's length for key pair generation. Cards: every card of the
# repository whose two files (fixed and per-length, under one name) give all nine
# operations on P-256 with positive figures, and the NXP JCOP3 J3H145, whose two files
# spell its name two ways over one ATR. Left out: the cards without P-256 or without a
# per-length file, and those whose figures are negative (JCAlgTest's baseline
# subtraction failed: Infineon SECORA ID S/X, SPA1-1; Athena IDProtect's EEPROM).
CARDS = (
    _card(
        "NXP JCOP4 J3R180 (P71)",
        "NXP_JCOP4_J3R180_SECID_P71____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1634708420109__3b_d5_18_ff_81_91_fe_1f_c3_80_73_c8_21_10_0a.csv",
        "NXP_JCOP4_J3R180_SECID_P71____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634842873864__3b_fb_91_00_ff_91_81_71_fe_40_00_41_20_00_11_77_91_80_73_c8_21_10_d6.csv",
        keypair=((-1, 26.80, 11291),),
        ecdh=((256, 20.04, 11417),),
        ecdsa_verify=((256, 30.22, 4929),),
        eeprom_write=((256, 2.86, 10927),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (1.72, 1.68, 2.56, 3.72, 5.12, 8.74)),
        sha256=_per_length((164, 172, 180, 188, 196, 204), (2.23, 2.56, 3.64, 4.95, 7.87, 13.6)),
        random=_per_length((560, 568, 576, 584, 592, 600), (0.88, 0.88, 0.88, 0.93, 1.28, 1.68)),
        aes_cbc=_per_length(
            (3284, 3292, 3300, 3308, 3316, 3324), (1.55, 1.64, 1.52, 1.72, 1.96, 2.15)
        ),
        aes_cbc_mac=_per_length(
            (9090, 9098, 9106, 9114, 9122, 9130), (2.2, 0.92, 1.68, 2.32, 1.0, 0.96)
        ),
    ),
    _card(
        "NXP JCOP3 J3H145 (P60)",
        "NXP_JCOP3_J3H145g_P60____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1634626143124__3b_94_95_81_01_46_54_56_01_c4.csv",
        "NXP_JCOP3_J3H145_SECID_P60____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634842922783__3b_94_95_81_01_46_54_56_01_c4.csv",
        keypair=((-1, 156.3, 12415),),
        ecdh=((256, 55.08, 12533),),
        ecdsa_verify=((256, 50.32, 4879),),
        eeprom_write=((256, 1.49, 12055),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (2.72, 2.48, 3.2, 5.16, 7.46, 13.72)),
        sha256=_per_length((164, 172, 180, 188, 196, 204), (1.34, 2.72, 3.84, 5.32, 8.2, 14.65)),
        random=_per_length((560, 568, 576, 584, 592, 600), (0.64, 0.88, 1.04, 0.92, 1.36, 2.24)),
        aes_cbc=_per_length(
            (2900, 2908, 2916, 2924, 2932, 2940), (8.39, 8.36, 8.55, 8.71, 8.72, 9.76)
        ),
        aes_cbc_mac=_per_length(
            (8364, 8372, 8380, 8388, 8396, 8404), (9.21, 9.88, 9.44, 9.58, 10.6, 11.4)
        ),
    ),
    _card(
        "NXP CJ2A081 (JCOP 2.4.1)",
        "NXP_CJ2A081____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1557936391694__3b_f8_18_00_ff_81_31_fe_45_4a_43_4f_50_76_32_34_31_43.csv",
        "NXP_CJ2A081____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634969585474__3b_f8_18_00_ff_81_31_fe_45_4a_43_4f_50_76_32_34_31_43.csv",
        keypair=((-1, 101.85, 9036),),
        ecdh=((256, 104.3, 9146),),
        ecdsa_verify=((256, 118.84, 3546),),
        eeprom_write=((256, 19.56, 8728),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (4.52, 4.6, 6.83, 8.32, 11.68, 18.36)),
        sha256=_per_length(
            (188, 196, 204, 212, 220, 228), (6.36, 6.28, 10.06, 13.88, 21.48, 35.36)
        ),
        random=_per_length((512, 520, 528, 536, 544, 552), (1.68, 2.52, 4.16, 7.36, 14.08, 27.4)),
        aes_cbc=_per_length(
            (2996, 3004, 3012, 3020, 3028, 3036), (6.2, 6.6, 7.4, 8.92, 63.04, 123.4)
        ),
        aes_cbc_mac=_per_length(
            (7550, 7558, 7566, 7574, 7582, 7590), (6.4, 6.8, 7.52, 8.72, 11.12, 16.36)
        ),
    ),
    _card(
        "NXP J2A080 80K (JCOP 2.4.1)",
        "NXP_J2A080_80K____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1634801332136__3b_f8_18_00_00_81_31_fe_45_4a_43_4f_50_76_32_34_31_bc.csv",
        "NXP_J2A080_80K____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634893745552__3b_f8_18_00_00_81_31_fe_45_4a_43_4f_50_76_32_34_31_bc.csv",
        keypair=((-1, 568.9, 9323),),
        ecdh=((256, 159.16, 9437),),
        ecdsa_verify=((256, 211.54, 3785),),
        eeprom_write=((256, 24.14, 9015),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (8.48, 9.12, 13.38, 17.59, 32.04, 52.6)),
        sha256=_per_length(
            (188, 196, 204, 212, 220, 228), (14.84, 15.2, 25.28, 37.4, 60.04, 103.72)
        ),
        random=_per_length((512, 520, 528, 536, 544, 552), (1.52, 2.56, 4.39, 9.49, 18.76, 38.24)),
        aes_cbc=_per_length(
            (2996, 3004, 3012, 3020, 3028, 3036), (18.57, 9.24, 19.16, 25.22, 92.6, 179.68)
        ),
        aes_cbc_mac=_per_length(
            (7550, 7558, 7566, 7574, 7582, 7590), (8.24, 7.4, 10.76, 12.88, 20.52, 29.28)
        ),
    ),
    _card(
        "G+D SmartCafe 7.0",
        "G+D_SmartCafe_7.0_215K_USB_Token_S____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1634746335185__3b_f9_96_00_00_81_31_fe_45_53_43_45_37_20_0e_00_20_20_28.csv",
        "G+D_SmartCafe_7.0_215K_USB_Token_S____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634843169900__3b_f9_96_00_00_81_31_fe_45_53_43_45_37_20_0e_00_20_20_28.csv",
        keypair=((-1, 206.7, 11411),),
        ecdh=((256, 63.7, 11537),),
        ecdsa_verify=((256, 67.91, 4715),),
        eeprom_write=((256, 0.39, 11041),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (2.48, 0.96, 1.76, 3.76, 3.24, 6.68)),
        sha256=_per_length((164, 172, 180, 188, 196, 204), (2.48, 2.48, 3.88, 5.4, 8.96, 15.24)),
        random=_per_length(
            (560, 568, 576, 584, 592, 600), (10.12, 10.48, 10.04, 11.16, 23.48, 35.2)
        ),
        aes_cbc=_per_length(
            (3188, 3196, 3204, 3212, 3220, 3228), (2.6, 2.96, 3.36, 4.48, 6.63, 11.2)
        ),
        aes_cbc_mac=_per_length(
            (8886, 8894, 8902, 8910, 8918, 8926), (2.48, 3.12, 3.56, 4.55, 7.04, 11.36)
        ),
    ),
    _card(
        "Infineon CJTOP 80K (SLJ 52GLA080AL)",
        "Infineon_CJTOP_80K_INF_SLJ_52GLA080AL_M8.4____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATAFIXED_1634725042516__3b_f6_91_00_ff_91_81_71_fe_40_00_41_28_00_01_77_b1_e9.csv",
        "Infineon_CJTOP_80K_INF_SLJ_52GLA080AL_M8.4____PERFORMANCE_SYMMETRIC_ASYMMETRIC_DATADEPEND_1634918800987__3b_fe_18_00_00_80_31_fe_45_80_31_80_66_40_90_a5_10_2e_10_83_01_90_00_f2.csv",
        keypair=((-1, 213.9, 10715),),
        ecdh=((256, 126.18, 10829),),
        ecdsa_verify=((256, 100.85, 4513),),
        eeprom_write=((256, 2.23, 10371),),
        sha1=_per_length((50, 58, 66, 74, 82, 90), (4.92, 5.0, 7.92, 11.16, 17.08, 29.32)),
        sha256=_per_length((188, 196, 204, 212, 220, 228), (8.56, 8.48, 15.04, 21.72, 35.52, 61.6)),
        random=_per_length((584, 592, 600, 608, 616, 624), (5.4, 5.92, 6.92, 13.0, 25.0, 48.68)),
        aes_cbc=_per_length(
            (2924, 2932, 2940, 2948, 2956, 2964), (4.48, 6.04, 8.8, 14.88, 25.96, 49.72)
        ),
        aes_cbc_mac=_per_length(
            (7782, 7790, 7798, 7806, 7814, 7822), (4.48, 5.72, 7.6, 12.32, 20.4, 38.08)
        ),
    ),
)

# --- the links ------------------------------------------------------------------------

_FC = 13_560_000  # ISO/IEC 14443 carrier frequency, Hz
_CONTACT_CLOCK = 3_571_200  # Hz, a common reader clock for ISO/IEC 7816-3 cards


@dataclass(frozen=True)
class Link:
    """How command and response bytes travel: bit rate and block framing."""

    name: str
    bit_rate: float
    """Bits per second."""
    bits_per_byte: int
    """Bit times per byte on the line (ISO/IEC 14443 type A: 8 + parity; T=1: 11 etu)."""
    block_overhead: int
    """Bytes of framing per block (14443-4: PCB + CRC_A; T=1: NAD PCB LEN + LRC)."""
    block_size: int
    """Information bytes per block; a longer APDU is chained, each link acknowledged."""

    def ms(self, apdu_bytes: int) -> float:
        """Time on the line for one APDU (chained blocks and their acknowledgements)."""
        blocks = max(1, math.ceil(apdu_bytes / self.block_size))
        on_air = apdu_bytes + blocks * self.block_overhead + (blocks - 1) * self.block_overhead
        return 1000 * on_air * self.bits_per_byte / self.bit_rate


def _contactless(kbit: int, divisor: int) -> Link:
    # ISO/IEC 14443-4 I-block: PCB + INF + CRC_A (no CID, no NAD); FSC 256 (FSCI 8) assumed.
    return Link(f"ISO 14443 {kbit} kbit/s", _FC / divisor, 9, 3, 256 - 3)


def _t1(name: str, fi: int, di: int) -> Link:
    # ISO/IEC 7816-3 T=1: a character every 11 etu (CGT with N = 0); IFSC 254 (the JCOP4
    # file's APDU.getInBlockSize).
    return Link(name, _CONTACT_CLOCK * di / fi, 11, 4, 254)


#: The links of the estimate: the four contactless bit rates, and T=1 at the default
#: rate and after PPS to the rates the measured cards' ATRs offer (TA1 = 18 of the
#: JCOP4 file: Fi 372, Di 12; TA1 = 96 of the SmartCafe 7.0 file: Fi 512, Di 32).
LINKS = (
    _contactless(106, 128),
    _contactless(212, 64),
    _contactless(424, 32),
    _contactless(848, 16),
    _t1("T=1 9.6 kbit/s", 372, 1),
    _t1("T=1 115.2 kbit/s", 372, 12),
    _t1("T=1 223.2 kbit/s", 512, 32),
)

#: An assumption, not a measurement: per APDU, the applet's own code outside the crypto
#: calls (TLV parsing, certificate fields, in interpreted Java Card bytecode), the card
#: OS dispatch and the reader's turnaround.
APDU_OVERHEAD_MS = 5.0

# --- counting -------------------------------------------------------------------------


@dataclass
class Operations:
    """What the card did in one transaction; lists hold one entry (bytes) per call."""

    commands: list[int] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)
    keypairs: int = 0
    """Scalar multiplications on the standard generator (a key pair's public key)."""
    multiplications: int = 0
    """Other scalar multiplications (ECDH, Generic Mapping, keys on the mapped generator)."""
    verifications: list[int] = field(default_factory=list)
    aes: list[int] = field(default_factory=list)
    cmac: list[int] = field(default_factory=list)
    sha1: list[int] = field(default_factory=list)
    sha256: list[int] = field(default_factory=list)
    random: list[int] = field(default_factory=list)
    writes: list[tuple[str, ...]] = field(default_factory=list)
    """The persistent fields each commit changed."""

    @property
    def scalar_multiplications(self) -> int:
        return self.keypairs + self.multiplications


class _Counter:
    def __init__(self) -> None:
        self.ops = Operations()
        self.active = False
        self.state: ChipState | None = None

    @contextmanager
    def card(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def rng(self, size: int) -> bytes:
        if self.active:
            self.ops.random.append(size)
        return secrets.token_bytes(size)

    def commit(self, state: ChipState) -> None:
        if self.active and self.state is not None:
            changed = tuple(
                f.name
                for f in fields(state)
                if getattr(state, f.name) != getattr(self.state, f.name, None)
            )
            self.ops.writes.append(changed)
        self.state = state


class _CountingLink:
    def __init__(self, connection: SimConnection, counter: _Counter) -> None:
        self._connection = connection
        self._counter = counter

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        with self._counter.card():
            data, sw = self._connection.transmit(apdu)
        self._counter.ops.commands.append(len(apdu))
        self._counter.ops.responses.append(len(data) + 2)
        return data, sw


class _Hashlib:
    """``hashlib`` for the modules that hash, counting SHA-1 and SHA-256 inputs."""

    def __init__(self, counter: _Counter) -> None:
        self._counter = counter

    def sha1(self, data: bytes = b"", **options: Any) -> Any:
        if self._counter.active:
            self._counter.ops.sha1.append(len(data))
        return hashlib.sha1(data, **options)  # noqa: S324 (the KDF's hash for AES-128)

    def sha256(self, data: bytes = b"", **options: Any) -> Any:
        if self._counter.active:
            self._counter.ops.sha256.append(len(data))
        return hashlib.sha256(data, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(hashlib, name)


def _modules() -> list[ModuleType]:
    return [m for name, m in list(sys.modules.items()) if name.startswith("cityid_card.") and m]


@contextmanager
def _patched(counter: _Counter) -> Iterator[None]:
    """The crypto entry points of ``cityid_card``, counting while the card runs."""
    undo: list[tuple[Any, str, Any]] = []

    def replace_everywhere(original: Any, wrapper: Any) -> None:
        for module in _modules():
            for name, value in list(vars(module).items()):
                if value is original:
                    undo.append((module, name, value))
                    setattr(module, name, wrapper)

    def counted(original: Callable[..., Any], record: Callable[..., None]) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if counter.active:
                record(*args, **kwargs)
            return original(*args, **kwargs)

        return wrapper

    ops = counter.ops

    def keypair(*_: Any) -> None:
        ops.keypairs += 1

    def multiplication(*_: Any) -> None:
        ops.multiplications += 1

    for name, record in (
        ("public_key", keypair),
        ("ecdh_x", multiplication),
        ("multiply", multiplication),
        ("multiply_add", multiplication),
    ):
        original = vars(Curve)[name]
        undo.append((Curve, name, original))
        setattr(Curve, name, counted(original, record))
    replace_everywhere(
        cvc.verify_signature,
        counted(
            cvc.verify_signature,
            lambda certificate, *_: ops.verifications.append(len(certificate.body_bytes)),
        ),
    )
    replace_everywhere(
        ta.verify,
        counted(ta.verify, lambda _key, message, *_: ops.verifications.append(len(message))),
    )
    for function, calls in (
        (_sym.aes_cbc_encrypt, ops.aes),
        (_sym.aes_cbc_decrypt, ops.aes),
        (_sym.cmac8, ops.cmac),
    ):
        replace_everywhere(
            function, counted(function, lambda _key, data, *_, calls=calls: calls.append(len(data)))
        )
    replace_everywhere(hashlib, _Hashlib(counter))
    try:
        yield
    finally:
        for owner, name, value in reversed(undo):
            setattr(owner, name, value)


def measure(city: City, role: str, *, today: date = TODAY) -> Operations:
    """Run one ``role`` transaction against a fresh emulated card; count the card's work."""
    counter = _Counter()
    connection = SimConnection(EmulatedCard(on_commit=counter.commit, rng=counter.rng))
    personalize_gen2(connection, HOLDER, city.batch, can=CAN, today=date(2026, 12, 1))
    connection.application.reset()
    with _patched(counter):
        disclose(
            _CountingLink(connection, counter),
            city.terminal(role),
            CAN,
            today=today,
            trust=city.trust,
        )
    return counter.ops


# --- the estimate ---------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """One transaction's time on ``card`` over ``link``, in parts (ms each)."""

    card: str
    link: str
    parts: Mapping[str, float]

    @property
    def total(self) -> float:
        """Milliseconds: the sum of the parts."""
        return sum(self.parts.values())


def estimate(
    ops: Operations, card: Card, link: Link, apdu_overhead_ms: float = APDU_OVERHEAD_MS
) -> Estimate:
    """Price ``ops`` with ``card``'s published figures and ``link``'s transfer time.

    CMAC is priced as the card's AES CBC-MAC of the same length (CMAC is CBC-MAC with a
    subkey mixed into the last block); each commit as one atomic 256-byte write.
    """

    def each(operation: str, lengths: list[int]) -> float:
        return sum(card.ms(operation, length) for length in lengths)

    parts = {
        "key pairs": ops.keypairs * card.ms("keypair"),
        "scalar multiplications": ops.multiplications * card.ms("ecdh"),
        "ECDSA verifications": len(ops.verifications) * card.ms("ecdsa_verify"),
        "AES": each("aes_cbc", ops.aes),
        "CMAC": each("aes_cbc_mac", ops.cmac),
        "hashes": each("sha1", ops.sha1) + each("sha256", ops.sha256),
        "random": each("random", ops.random),
        "writes": len(ops.writes) * card.ms("eeprom_write", 256),
        "transfer": sum(link.ms(n) for n in ops.commands + ops.responses),
        "APDU overhead": len(ops.commands) * apdu_overhead_ms,
    }
    return Estimate(card.name, link.name, parts)


def _summary(ops: Operations) -> str:
    return (
        f"{len(ops.commands)} APDUs ({sum(ops.commands)} B to the card, "
        f"{sum(ops.responses)} B back), {ops.keypairs} key pairs + {ops.multiplications} "
        f"scalar mults, {len(ops.verifications)} ECDSA verifications, {len(ops.aes)} AES-CBC "
        f"+ {len(ops.cmac)} CMAC calls, {len(ops.sha1) + len(ops.sha256)} hashes, "
        f"{sum(ops.random)} random bytes in {len(ops.random)} calls, {len(ops.writes)} writes"
    )


#: The links the benchmark prints: contactless at the slowest and fastest rates, and T=1
#: at the JCOP4 file's rate.
SHOWN = ("ISO 14443 106 kbit/s", "ISO 14443 848 kbit/s", "T=1 115.2 kbit/s")


def lines(city: City, roles: tuple[str, ...]) -> list[str]:
    """The lines the benchmark prints: per role, the counts and the estimate range."""
    lines = [
        "on a real card (estimate: the emulator's counts x JCAlgTest's published figures "
        f"+ transfer + {APDU_OVERHEAD_MS:g} ms per APDU assumed; docs/performance.md)"
    ]
    for role in roles:
        ops = measure(city, role)
        lines.append(f"{role:<10} {_summary(ops)}")
        ranges = []
        for link in (link for link in LINKS if link.name in SHOWN):
            totals = sorted((estimate(ops, card, link).total, card.name) for card in CARDS)
            ranges.append(f"{link.name}: {totals[0][0] / 1000:.2f} .. {totals[-1][0] / 1000:.2f} s")
        lines.append(f"{'':<10} " + "; ".join(ranges))
    lines.append(
        f"range: fastest .. slowest of {len(CARDS)} cards ({', '.join(c.name for c in CARDS)}); "
        f"figures from {_SOURCE} at {_COMMIT[:12]}, {_FOLDER}"
    )
    return lines


def report(city: City, roles: tuple[str, ...]) -> None:
    """Print :func:`lines` (the hook of benchmarks/gen2.py)."""
    print("\n".join(lines(city, roles)))


def _markdown(city: City, roles: tuple[str, ...]) -> list[str]:
    """The tables of docs/performance.md: counts, totals per card and link, one breakdown."""
    measured = {role: measure(city, role) for role in roles}
    out = [
        "| role | APDUs | bytes to card / back | key pairs | other scalar mults | ECDSA verifications "
        "| AES-CBC calls | CMAC calls | SHA-1 / SHA-256 calls | random bytes (calls) | writes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for role, ops in measured.items():
        out.append(
            f"| {role} | {len(ops.commands)} | {sum(ops.commands)} / {sum(ops.responses)} "
            f"| {ops.keypairs} | {ops.multiplications} | {len(ops.verifications)} "
            f"| {len(ops.aes)} | {len(ops.cmac)} | {len(ops.sha1)} / {len(ops.sha256)} "
            f"| {sum(ops.random)} ({len(ops.random)}) | {len(ops.writes)} |"
        )
    out += ["", "| role | card | " + " | ".join(link.name for link in LINKS) + " |"]
    out.append("|---|---|" + "---|" * len(LINKS))
    for role, ops in measured.items():
        for card in CARDS:
            cells = " | ".join(f"{estimate(ops, card, link).total / 1000:.2f} s" for link in LINKS)
            out.append(f"| {role} | {card.name} | {cells} |")
    role = "transit" if "transit" in measured else roles[0]
    parts = [estimate(measured[role], card, LINKS[0]) for card in CARDS]
    out += ["", f"| {role}, {LINKS[0].name}, ms | " + " | ".join(c.name for c in CARDS) + " |"]
    out.append("|---|" + "---|" * len(CARDS))
    for name in parts[0].parts:
        out.append(f"| {name} | " + " | ".join(f"{e.parts[name]:.1f}" for e in parts) + " |")
    out.append("| **total** | " + " | ".join(f"**{e.total:.0f}**" for e in parts) + " |")
    return out


if __name__ == "__main__":
    from tests.gen2.helpers import make_city

    print(
        "\n".join(_markdown(make_city(), ("library", "transit", "museum", "age-check", "benefits")))
    )
