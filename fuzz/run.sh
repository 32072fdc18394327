#!/usr/bin/env bash
# Build the libFuzzer harness (clang, ASan + UBSan + LeakSanitizer) and fuzz the C core
# for a bounded time: fuzz/run.sh [seconds, default 60] [extra libFuzzer options].
# New inputs go to build/fuzz/corpus, crashes to build/fuzz/; the checked-in seeds in
# fuzz/corpus are read only. Exits non-zero on any crash, leak or sanitizer report.
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
mkdir -p "$OUT/corpus"

defines=()
libs=(-lcrypto)
if [ "${CITYID_CARD_SODIUM:-1}" != 0 ] && echo 'int main(void){return 0;}' |
    "$CC" -x c - -o /dev/null -lsodium 2>/dev/null && [ -f /usr/include/sodium.h ]; then
    defines+=(-DCITYID_HAVE_SODIUM=1)
    libs+=(-lsodium)
fi
"$CC" -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "${defines[@]}" -I"$NATIVE" \
    "$ROOT/fuzz/fuzz_verify.c" "$NATIVE"/cbor.c "$NATIVE"/claims.c "$NATIVE"/engine.c \
    "$NATIVE"/sig.c "${libs[@]}" -o "$OUT/fuzz_verify"
echo "fuzz: built $OUT/fuzz_verify (${defines[*]:-Ed25519 through OpenSSL}); running ${SECONDS_TO_RUN}s" >&2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$OUT/fuzz_verify" "$OUT/corpus" "$ROOT/fuzz/corpus" \
    -dict="$ROOT/fuzz/cbor.dict" -max_total_time="$SECONDS_TO_RUN" -max_len=2048 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/" "$@"
