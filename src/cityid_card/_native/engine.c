/*
 * Steps 1 to 7 of specs/credential.md, "Verification", over a table of trusted keys;
 * the pure-Python twin is verifier._PythonEngine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"

/* Room for the Sig_structure of every credential the format allows (at most 315
 * bytes); a larger payload, which can only be refused, is copied to the heap. */
#define SIG_STRUCTURE_STACK 512
/* 84 6a "Signature1", protected header bstr, 40 (empty external_aad), payload head. */
static const uint8_t SIGNATURE1_HEAD[] = {0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'};
#define MAX_HEAD 9

typedef struct entry {
    cityid_key *key;
    int alg;
    uint8_t wire_kid[CITYID_WIRE_KID_SIZE];
    int has_from, has_until;
    int64_t valid_from, valid_until;
} entry;

struct cityid_engine {
    size_t count, capacity;
    entry *entries;
};

typedef struct envelope {
    cityid_bytes protected_header, payload, signature;
    int alg;
    const uint8_t *wire_kid;
} envelope;

#define REJECT(status, text)                                                                    \
    do {                                                                                        \
        *reason = (text);                                                                       \
        return (status);                                                                        \
    } while (0)

cityid_engine *cityid_engine_new(size_t capacity)
{
    cityid_engine *engine = calloc(1, sizeof *engine);
    if (engine == NULL)
        return NULL;
    if (capacity > 0) {
        engine->entries = calloc(capacity, sizeof *engine->entries);
        if (engine->entries == NULL) {
            free(engine);
            return NULL;
        }
    }
    engine->capacity = capacity;
    return engine;
}

void cityid_engine_free(cityid_engine *engine)
{
    if (engine == NULL)
        return;
    for (size_t i = 0; i < engine->count; i++)
        cityid_key_free(engine->entries[i].key);
    free(engine->entries);
    free(engine);
}

size_t cityid_engine_size(const cityid_engine *engine)
{
    return engine->count;
}

cityid_status cityid_engine_add(cityid_engine *engine, cityid_key *key,
                                const uint8_t wire_kid[CITYID_WIRE_KID_SIZE], int has_from,
                                int64_t valid_from, int has_until, int64_t valid_until)
{
    if (engine->count == engine->capacity) {
        cityid_key_free(key);
        return CITYID_NO_MEMORY;
    }
    entry *e = &engine->entries[engine->count++];
    e->key = key;
    e->alg = cityid_key_alg(key);
    memcpy(e->wire_kid, wire_kid, CITYID_WIRE_KID_SIZE);
    e->has_from = has_from;
    e->valid_from = valid_from;
    e->has_until = has_until;
    e->valid_until = valid_until;
    return CITYID_OK;
}

/* Whether a trusted key may have signed the envelope: its algorithm and wire kid. */
static int is_candidate(const entry *e, const envelope *env)
{
    return e->alg == env->alg && memcmp(e->wire_kid, env->wire_kid, CITYID_WIRE_KID_SIZE) == 0;
}

static int read_bytes(cbor_reader *r, cityid_bytes *out)
{
    cbor_head h;
    return cbor_head_read(r, &h) == 0 && h.major == CBOR_BYTES && cbor_string(r, &h, out) == 0
               ? 0
               : -1;
}

/* Steps 1 and 2, as verifier._checked_envelope: every rule of the encoding and the
 * profile first (MalformedCredential), the algorithm last (UnsupportedAlgorithm). */
static cityid_status parse_envelope(const uint8_t *blob, size_t len, envelope *env,
                                    const char **reason)
{
    cbor_reader r;
    cbor_head h;
    if (len > 0 && blob[0] == 0xd2)
        REJECT(CITYID_MALFORMED, "COSE_Sign1 must not be tagged here");
    if (cbor_check(blob, len, reason) != 0)
        return CITYID_MALFORMED;
    cbor_reader_init(&r, blob, len);
    if (cbor_head_read(&r, &h) != 0 || h.major != CBOR_ARRAY || h.arg != 4)
        REJECT(CITYID_MALFORMED, "COSE_Sign1 is not an array of four items");
    if (read_bytes(&r, &env->protected_header) != 0)
        REJECT(CITYID_MALFORMED, "COSE_Sign1 headers have the wrong types");
    size_t unprotected_start = r.pos;
    if (cbor_head_read(&r, &h) != 0 || h.major != CBOR_MAP)
        REJECT(CITYID_MALFORMED, "COSE_Sign1 headers have the wrong types");
    uint64_t unprotected_count = h.arg;
    r.pos = unprotected_start;
    if (cbor_item(&r, 1) != 0)
        REJECT(CITYID_MALFORMED, r.error);
    if (read_bytes(&r, &env->payload) != 0 || read_bytes(&r, &env->signature) != 0)
        REJECT(CITYID_MALFORMED, "COSE_Sign1 payload or signature is not a byte string");

    /* The protected header: a map; empty (an empty bstr or h'a0', RFC 9052 section 3)
     * it lacks alg and kid, which verifier._checked_envelope says before the rest. */
    const uint8_t *header = env->protected_header.ptr;
    size_t header_len = env->protected_header.len;
    if (header_len == 0)
        REJECT(CITYID_MALFORMED, "the protected header must hold exactly alg and kid");
    if (cbor_check(header, header_len, reason) != 0)
        return CITYID_MALFORMED;
    if (header[0] >> 5 != CBOR_MAP)
        REJECT(CITYID_MALFORMED, "COSE protected header is not a map");
    if (header[0] == 0xa0)
        REJECT(CITYID_MALFORMED, "the protected header must hold exactly alg and kid");
    if (unprotected_count != 0)
        REJECT(CITYID_MALFORMED, "the unprotected header must be empty");
    if (env->signature.len != CITYID_SIGNATURE_SIZE)
        REJECT(CITYID_MALFORMED, "the signature must be 64 bytes");

    /* Exactly the labels 1 and 4, as integers; in canonical order 01 sorts first. */
    cbor_reader_init(&r, header, header_len);
    if (cbor_head_read(&r, &h) != 0 || h.arg != 2 || cbor_head_read(&r, &h) != 0 ||
        h.major != CBOR_UINT || h.arg != 1)
        REJECT(CITYID_MALFORMED, "the protected header must hold exactly alg and kid");
    cbor_head alg;
    size_t alg_start = r.pos;
    if (cbor_item(&r, 1) != 0)
        REJECT(CITYID_MALFORMED, r.error);
    size_t alg_len = r.pos - alg_start;
    if (cbor_head_read(&r, &h) != 0 || h.major != CBOR_UINT || h.arg != 4)
        REJECT(CITYID_MALFORMED, "the protected header must hold exactly alg and kid");
    cityid_bytes kid;
    if (read_bytes(&r, &kid) != 0 || kid.len != CITYID_WIRE_KID_SIZE)
        REJECT(CITYID_MALFORMED, "the kid must be a 2-byte string");
    env->wire_kid = kid.ptr;

    /* Only the integers -7 and -8 name an algorithm. */
    r.pos = alg_start;
    if (alg_len != 1 || cbor_head_read(&r, &alg) != 0 || alg.major != CBOR_NEGINT ||
        (alg.arg != 6 && alg.arg != 7))
        REJECT(CITYID_UNSUPPORTED_ALGORITHM, "only ES256 (-7) and EdDSA (-8) are supported");
    env->alg = -1 - (int)alg.arg;
    return CITYID_OK;
}

/* The head of a CBOR byte string of `len` bytes, in its shortest form. */
static size_t bytes_head(uint8_t *out, size_t len)
{
    uint64_t n = len;
    if (n < 24) {
        out[0] = (uint8_t)(0x40 | n);
        return 1;
    }
    size_t size = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
    out[0] = (uint8_t)(0x40 | (size == 1 ? 24 : size == 2 ? 25 : size == 4 ? 26 : 27));
    for (size_t i = 0; i < size; i++)
        out[1 + i] = (uint8_t)(n >> (8 * (size - 1 - i)));
    return 1 + size;
}

/* Step 4: the first candidate key, from entry `first` on, the signature verifies under. */
static cityid_status check_signature(const cityid_engine *engine, const envelope *env,
                                     size_t first, size_t *key_index, const char **reason)
{
    uint8_t prefix[sizeof SIGNATURE1_HEAD + MAX_HEAD + 1 + MAX_HEAD];
    const cityid_bytes *header = &env->protected_header;
    size_t prefix_len = sizeof SIGNATURE1_HEAD;
    memcpy(prefix, SIGNATURE1_HEAD, prefix_len);
    prefix_len += bytes_head(prefix + prefix_len, header->len);
    /* The protected header (7 bytes in every envelope that gets here) goes between the
     * two parts of the head. */
    uint8_t tail[1 + MAX_HEAD];
    tail[0] = 0x40;
    size_t tail_len = 1 + bytes_head(tail + 1, env->payload.len);
    /* Slices of one blob: header->len + payload.len <= SIZE_MAX, but not with the heads. */
    if (env->payload.len + header->len > SIZE_MAX - prefix_len - tail_len)
        REJECT(CITYID_NO_MEMORY, "the credential is too large");
    size_t total = prefix_len + header->len + tail_len + env->payload.len;

    uint8_t stack[SIG_STRUCTURE_STACK];
    uint8_t *message = stack;
    if (total > sizeof stack) {
        message = malloc(total);
        if (message == NULL)
            REJECT(CITYID_NO_MEMORY, "out of memory");
    }
    uint8_t *p = message;
    memcpy(p, prefix, prefix_len);
    p += prefix_len;
    memcpy(p, header->ptr, header->len);
    p += header->len;
    memcpy(p, tail, tail_len);
    p += tail_len;
    memcpy(p, env->payload.ptr, env->payload.len);

    cityid_status status = CITYID_BAD_SIGNATURE;
    for (size_t i = first; i < engine->count && status == CITYID_BAD_SIGNATURE; i++) {
        const entry *e = &engine->entries[i];
        if (!is_candidate(e, env))
            continue;
        status = cityid_key_verify(e->key, message, total, env->signature.ptr,
                                   env->signature.len);
        *key_index = i;
    }
    if (message != stack)
        free(message);
    if (status == CITYID_BAD_SIGNATURE)
        *reason = "the signature does not verify under the issuer key";
    else if (status != CITYID_OK)
        *reason = "the signature check failed inside the crypto library";
    return status;
}

cityid_status cityid_verify(const cityid_engine *engine, const uint8_t *blob, size_t len,
                            cityid_verified *out)
{
    envelope env;
    const char **reason = &out->reason;
    out->reason = NULL;
    cityid_status status = parse_envelope(blob, len, &env, reason);
    if (status != CITYID_OK)
        return status;

    size_t first = 0;
    while (first < engine->count && !is_candidate(&engine->entries[first], &env))
        first++;
    if (first == engine->count)
        REJECT(CITYID_UNKNOWN_ISSUER, "no trusted key has the credential's key id and algorithm");

    if ((status = check_signature(engine, &env, first, &out->key_index, reason)) != CITYID_OK)
        return status;
    return cityid_parse_claims(env.payload.ptr, env.payload.len, &out->claims, reason);
}

cityid_status cityid_check_dates(const cityid_engine *engine, const cityid_verified *verified,
                                 int64_t today, const char **reason)
{
    const entry *e = &engine->entries[verified->key_index];
    int64_t issued = verified->claims.issued;
    if ((e->has_from && issued < e->valid_from) || (e->has_until && issued > e->valid_until))
        REJECT(CITYID_KEY_NOT_VALID, "the issuer key was not valid on the credential's issue date");
    return cityid_check_validity(issued, verified->claims.expires, today, reason);
}

cityid_status cityid_check_validity(int64_t issued, int64_t expires, int64_t today,
                                    const char **reason)
{
    if (today < issued)
        REJECT(CITYID_NOT_YET_VALID, "the credential's issue date is after the verification date");
    if (today > expires)
        REJECT(CITYID_EXPIRED, "the credential expired before the verification date");
    return CITYID_OK;
}

void cityid_verify_batch(const cityid_engine *engine, const cityid_bytes *blobs, size_t count,
                         int64_t today, cityid_outcome *out)
{
    for (size_t i = 0; i < count; i++) {
        cityid_outcome *o = &out[i];
        o->status = cityid_verify(engine, blobs[i].ptr, blobs[i].len, &o->verified);
        o->reason = o->verified.reason;
        o->dates = CITYID_OK;
        if (o->status == CITYID_OK)
            o->dates = cityid_check_dates(engine, &o->verified, today, &o->reason);
    }
}

int cityid_status_at(const uint8_t *list, size_t len, unsigned bits, uint64_t index)
{
    if (bits != 1 && bits != 2 && bits != 4 && bits != 8)
        return -1;
    uint64_t per_byte = 8 / bits;
    uint64_t byte = index / per_byte;
    if (byte >= len)
        return -1;
    unsigned shift = (unsigned)(index % per_byte) * bits;
    return (list[byte] >> shift) & ((1u << bits) - 1);
}

void cityid_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    /* Howard Hinnant's days_from_civil inverse, exact for the whole int32 range. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

int64_t cityid_days_from_civil(int64_t year, int month, int day)
{
    /* Howard Hinnant's days_from_civil; month 1..12 and day 1..31 (the caller's dates). */
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
