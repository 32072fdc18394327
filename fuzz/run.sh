#!/usr/bin/env bash
# Build the libFuzzer harnesses (clang, ASan + UBSan + LeakSanitizer) and fuzz the C core
# for a bounded time: fuzz/run.sh [seconds, default 60] [extra libFuzzer options].
# fuzz_verify (the verifier, fuzz/fuzz_verify.c) runs for the seconds given, then
# fuzz_ec (the EC point arithmetic, fuzz/fuzz_ec.c) for a third of them (at least 10).
# New inputs go to build/fuzz/corpus*, crashes to build/fuzz/; the checked-in seeds in
# fuzz/corpus and fuzz/corpus-ec are read only. Exits non-zero on any crash, leak or
# sanitizer report.
# Needs clang with its fuzzer runtime (Debian: clang, libclang-rt-14-dev or newer),
# libssl-dev, and libsodium-dev (without it Ed25519 goes through OpenSSL, as in the
# extension; CITYID_CARD_SODIUM=0 forces that).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_TO_RUN=${1:-60}
shift || true
OUT=$ROOT/build/fuzz
NATIVE=$ROOT/src/cityid_card/_native
CC=${CC:-clang}
mkdir -p "$OUT/corpus" "$OUT/corpus-ec"

defines=()
libs=(-lcrypto)
if [ "${CITYID_CARD_SODIUM:-1}" != 0 ] && echo 'int main(void){return 0;}' |
    "$CC" -x c - -o /dev/null -lsodium 2>/dev/null && [ -f /usr/include/sodium.h ]; then
    defines+=(-DCITYID_HAVE_SODIUM=1)
    libs+=(-lsodium)
fi
NATIVE_SOURCES=("$NATIVE"/cbor.c "$NATIVE"/claims.c "$NATIVE"/ec.c "$NATIVE"/engine.c "$NATIVE"/sig.c)
for harness in fuzz_verify fuzz_ec; do
    "$CC" -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        "${defines[@]}" -I"$NATIVE" \
        "$ROOT/fuzz/$harness.c" "${NATIVE_SOURCES[@]}" "${libs[@]}" -o "$OUT/$harness"
done
echo "fuzz: built $OUT/fuzz_verify, $OUT/fuzz_ec (${defines[*]:-Ed25519 through OpenSSL})" >&2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz: fuzz_verify for ${SECONDS_TO_RUN}s" >&2
"$OUT/fuzz_verify" "$OUT/corpus" "$ROOT/fuzz/corpus" \
    -dict="$ROOT/fuzz/cbor.dict" -max_total_time="$SECONDS_TO_RUN" -max_len=2048 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/" "$@"
EC_SECONDS=$((SECONDS_TO_RUN / 3 > 10 ? SECONDS_TO_RUN / 3 : 10))
echo "fuzz: fuzz_ec for ${EC_SECONDS}s" >&2
exec "$OUT/fuzz_ec" "$OUT/corpus-ec" "$ROOT/fuzz/corpus-ec" \
    -max_total_time="$EC_SECONDS" -max_len=256 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/ec-" "$@"
