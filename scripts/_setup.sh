# Shared set-up for scripts/demo and scripts/test: sourced, not run.
# Leaves a virtual environment at .venv with the project installed in it, on a
# fresh Debian machine that has nothing but Python 3.11+.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CITYID_CARD_VENV:-$ROOT/.venv}
cd "$ROOT"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup: need root (or sudo) to run: $*" >&2; return 1
    fi
}

apt_install() {
    # Install Debian packages that are missing; update the package lists once.
    local missing=()
    for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "setup: Python 3.11 or newer is required" >&2; return 1
}

make_venv() {
    local python
    python=$(find_python)
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            # Debian splits venv and ensurepip into python3-venv.
            rm -rf "$VENV"
            apt_install python3-venv
            "$python" -m venv "$VENV"
        fi
    fi
    pip_run -q --upgrade pip
}

pip_run() {
    # grep drops pip's notes about index locations of this machine's pip.conf.
    "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" \
        2> >(grep -v "^WARNING: Location 'file:" >&2)
}

pip_install() {
    pip_run -q -c "$ROOT/constraints.txt" "$@"
}

install_pcsc_stack() {
    # The real PC/SC stack of the contact-card tests: pcscd with vsmartcard's virtual
    # reader, and what building pyscard needs (it has no Linux wheel; swig comes from
    # PyPI by itself). Starting pcscd is the tests' job: there is no systemd here.
    apt_install pcscd vsmartcard-vpcd libpcsclite-dev gcc libc6-dev pkg-config
    local include
    include=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$include/Python.h" ] || apt_install python3-dev
}

install_station_stack() {
    # What the issuance-station tests use: SoftHSM2, a real PKCS#11 token in software
    # (the tests make a throwaway token in a temporary folder), and DejaVu Sans, the
    # card faces' default font.
    apt_install softhsm2 fonts-dejavu-core
}

install_native_stack() {
    # What the C engine (cityid_card._native, built by setup.py) needs: a C compiler,
    # Python's headers, OpenSSL 3's libcrypto and libsodium (Ed25519). In CI a failed
    # build of it is an error (CITYID_CARD_REQUIRE_NATIVE=1), not a quiet fall-back to
    # the pure-Python engine, and so is a compiler warning.
    apt_install gcc libc6-dev libssl-dev libsodium-dev
    local include
    include=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$include/Python.h" ] || apt_install python3-dev
    if [ "${CI:-}" = true ]; then export CITYID_CARD_REQUIRE_NATIVE=1; fi
}

install_nfc_stack() {
    # The nfc driver (drivers/nfc) is nfcpy, pure Python from PyPI; it reaches USB readers
    # through libusb-1.0. The tests drive emulated tags and need no reader.
    apt_install libusb-1.0-0
}

install_eac_stack() {
    # OpenPACE, the independent peer of the EAC interoperability tests (tests/eac): libeac
    # driven through ctypes, and cvc-create/cvc-print for card-verifiable certificates.
    # It is GPL, so it is a test-only peer: nothing under src/ loads it.
    apt_install libeac3 libeac-dev openpace
}

install_registry_stack() {
    # The registry's PostgreSQL tests: Debian's postgresql server. The tests start a
    # throwaway cluster of their own in a temporary folder (initdb, pg_ctl, a Unix socket
    # only) as the postgres system user the package creates, and stop it at the end.
    apt_install postgresql
}

install_browser_stack() {
    # The staff page of `cityid-card serve` is tested in a real headless Chromium, the
    # Debian build, driven by Selenium through Debian's chromedriver (never a downloaded
    # browser).
    apt_install chromium chromium-driver
}
