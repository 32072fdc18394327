/*
 * The pure-C core of the cityid-card verifier: no Python in here, so it can be fuzzed
 * and tested on its own (fuzz/fuzz_verify.c, fuzz/fuzz_ec.c). module.c binds it to CPython.
 *
 * The checks and their order are those of specs/credential.md, "Verification", and of
 * the pure-Python twin (cityid_card/verifier.py, _PythonEngine): for every input both
 * report the same outcome. cityid_verify() runs steps 1 to 5 except the NFC check of
 * non-ASCII texts (which needs a Unicode database: the binding does it);
 * cityid_check_dates() runs steps 6 and 7; cityid_verify_batch() runs both for many
 * credentials; cityid_status_at() reads step 8's entry.
 *
 * Thread safety: an engine is immutable once built, so any number of threads may call
 * cityid_verify() and cityid_verify_batch() on it at once. Building (cityid_engine_add)
 * and freeing are not concurrent with anything.
 */
#ifndef CITYID_H
#define CITYID_H

#include <stddef.h>
#include <stdint.h>

typedef enum cityid_status {
    CITYID_OK = 0,
    CITYID_MALFORMED,
    CITYID_UNSUPPORTED_ALGORITHM,
    CITYID_UNKNOWN_ISSUER,
    CITYID_BAD_SIGNATURE,
    CITYID_UNSUPPORTED_VERSION,
    CITYID_UNKNOWN_CLAIM,
    CITYID_INVALID_CLAIM,
    CITYID_KEY_NOT_VALID,
    CITYID_NOT_YET_VALID,
    CITYID_EXPIRED,
    /* Not outcomes of a credential: */
    CITYID_INVALID_KEY,  /* a public key that cannot be loaded */
    CITYID_NO_MEMORY,
    CITYID_CRYPTO_ERROR, /* the crypto library failed in a way a bad signature does not explain */
} cityid_status;

#define CITYID_ES256 (-7)
#define CITYID_EDDSA (-8)
#define CITYID_SIGNATURE_SIZE 64
#define CITYID_WIRE_KID_SIZE 2
#define CITYID_ED25519_KEY_SIZE 32

/* A slice of the caller's input; ptr is NULL for an absent optional claim. */
typedef struct cityid_bytes {
    const uint8_t *ptr;
    size_t len;
} cityid_bytes;

/* The claims, as slices of the credential bytes (valid while those bytes are). */
typedef struct cityid_claims {
    cityid_bytes name;   /* UTF-8, checked but for NFC */
    cityid_bytes gender; /* absent: ptr NULL */
    cityid_bytes card_key, tag_uid, pseudonym_key;
    int32_t date_of_birth, issued, expires; /* day numbers: days since 1970-01-01 */
    uint32_t status_index;
    uint8_t name_ascii, gender_ascii; /* ASCII text is in NFC: no check needed */
} cityid_claims;

typedef struct cityid_verified {
    size_t key_index; /* the trusted key whose signature verified */
    cityid_claims claims;
    const char *reason; /* on failure: the rule that was broken (a constant, never data) */
} cityid_verified;

/* Once per process, before anything else; 0 on success. */
int cityid_init(void);

/* A loaded public key. Concurrent cityid_key_verify() calls on one key are safe. */
typedef struct cityid_key cityid_key;

/* ES256: a SEC1 P-256 point; EdDSA: the 32-byte Ed25519 key. */
cityid_status cityid_key_new(int cose_alg, const uint8_t *raw, size_t raw_len, cityid_key **out);
void cityid_key_free(cityid_key *key);
int cityid_key_alg(const cityid_key *key);
/* CITYID_OK, CITYID_BAD_SIGNATURE, or CITYID_NO_MEMORY / CITYID_CRYPTO_ERROR. */
cityid_status cityid_key_verify(cityid_key *key, const uint8_t *message, size_t message_len,
                                const uint8_t *signature, size_t signature_len);
/* What checks signatures of an algorithm: the library ("libsodium 1.0.18") and its call. */
const char *cityid_signature_library(int cose_alg);
const char *cityid_signature_api(int cose_alg);

/* A trust store: keys with their algorithm, wire kid and issuing window. */
typedef struct cityid_engine cityid_engine;

cityid_engine *cityid_engine_new(size_t capacity);
void cityid_engine_free(cityid_engine *engine);
/* Takes ownership of key (also on failure). A window end is open when its has_ flag is 0. */
cityid_status cityid_engine_add(cityid_engine *engine, cityid_key *key,
                                const uint8_t wire_kid[CITYID_WIRE_KID_SIZE], int has_from,
                                int64_t valid_from, int has_until, int64_t valid_until);
size_t cityid_engine_size(const cityid_engine *engine);

/* Steps 1 to 5 without NFC. On CITYID_OK, out->key_index and out->claims are set. */
cityid_status cityid_verify(const cityid_engine *engine, const uint8_t *blob, size_t len,
                            cityid_verified *out);
/* Steps 6 and 7 for a result of cityid_verify(); today is a day number. */
cityid_status cityid_check_dates(const cityid_engine *engine, const cityid_verified *verified,
                                 int64_t today, const char **reason);
/* Step 7 alone, on day numbers: issued <= today <= expires (a cached result's recheck). */
cityid_status cityid_check_validity(int64_t issued, int64_t expires, int64_t today,
                                    const char **reason);

/* Steps 1 to 7 but NFC for one credential. When status is CITYID_OK the claims are in
 * verified (NFC is the binding's to check, before the dates' outcome counts). */
typedef struct cityid_outcome {
    cityid_status status; /* steps 1 to 5 but NFC */
    cityid_status dates;  /* steps 6 and 7, when status is CITYID_OK */
    const char *reason;   /* the rule broken: of status, else of dates (NULL when none) */
    cityid_verified verified;
} cityid_outcome;

/* cityid_verify() and cityid_check_dates() for count credentials: out[i] for blobs[i]. */
void cityid_verify_batch(const cityid_engine *engine, const cityid_bytes *blobs, size_t count,
                         int64_t today, cityid_outcome *out);

/* The claims checks alone (step 5 without NFC), on an encoded claims array. */
cityid_status cityid_parse_claims(const uint8_t *payload, size_t len, cityid_claims *out,
                                  const char **reason);

/* Entry `index` of a decompressed status list of `bits` (1, 2, 4 or 8) bits per entry,
 * packed from the least significant bit of each byte up; -1 if it lies beyond the list. */
int cityid_status_at(const uint8_t *list, size_t len, unsigned bits, uint64_t index);

/* The calendar date of a day number (proleptic Gregorian), and the day number of a date. */
void cityid_civil_from_days(int64_t days, int *year, int *month, int *day);
int64_t cityid_days_from_civil(int64_t year, int month, int day);

/* Point arithmetic on a named curve through OpenSSL's EC_POINT (ec.c), for PACE's
 * Generic Mapping. Points are uncompressed, 04 || X || Y (CITYID_EC_POINT_SIZE bytes,
 * coordinates left-padded with zeros); scalars are CITYID_EC_SCALAR_SIZE bytes,
 * big-endian, and may be secret. Safe to call from any number of threads. */
enum { CITYID_CURVE_P256, CITYID_CURVE_BRAINPOOL_P256R1, CITYID_CURVE_COUNT };
#define CITYID_EC_SCALAR_SIZE 32
#define CITYID_EC_POINT_SIZE 65

/* out = scalar * point + addend. point NULL: the curve's standard generator; addend
 * NULL: no sum. On CITYID_OK, *identity is 1 when the result is the identity (out is
 * then all zeros), else out holds the result. CITYID_INVALID_KEY: a point that is not
 * an uncompressed point of the curve; CITYID_MALFORMED: an unknown curve or a scalar
 * of another length; else CITYID_NO_MEMORY or CITYID_CRYPTO_ERROR. */
cityid_status cityid_ec_mul_add(int curve, const uint8_t *point, size_t point_len,
                                const uint8_t *scalar, size_t scalar_len, const uint8_t *addend,
                                size_t addend_len, uint8_t out[CITYID_EC_POINT_SIZE],
                                int *identity);
/* out = left + right (neither NULL), with the results and errors of cityid_ec_mul_add. */
cityid_status cityid_ec_add(int curve, const uint8_t *left, size_t left_len, const uint8_t *right,
                            size_t right_len, uint8_t out[CITYID_EC_POINT_SIZE], int *identity);

#endif
