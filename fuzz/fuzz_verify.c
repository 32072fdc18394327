/*
 * libFuzzer harness for the pure-C core (src/cityid_card/_native/cityid.h).
 *
 * Each input goes through:
 *   - cityid_verify() against the trust store of specs/vectors/trust.json, plus an
 *     impostor key that shares VEC-ES256-1's wire kid (two candidates to try), so the
 *     seed corpus (the spec's vectors) verifies and mutations reach every step;
 *   - cityid_verify_batch() on the input and its second half, which must give what
 *     cityid_verify() and cityid_check_dates() give for each;
 *   - cityid_parse_claims() on the input as a payload (claims corpus seeds);
 *   - the day number in the input's first bytes through cityid_civil_from_days() and
 *     back through cityid_days_from_civil();
 *   - key loading and the raw signature check with input-chosen keys and signatures
 *     (DER encoding of any r || s), and a status-list read.
 * Results are checked for consistency; any violation traps.
 *
 * Build and run: fuzz/run.sh [seconds].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cityid.h"

#define CHECK(condition)                                                                        \
    do {                                                                                        \
        if (!(condition))                                                                       \
            __builtin_trap();                                                                   \
    } while (0)

static const uint8_t VEC_ES256_1[65] = {
    0x04, 0x71, 0xcc, 0x6c, 0xd9, 0x86, 0xd8, 0xc7, 0x23, 0x30, 0x91, 0x95, 0x9b, 0x32, 0x5c,
    0x4f, 0xd9, 0x88, 0xee, 0x54, 0xd0, 0xa4, 0xee, 0xed, 0xf5, 0xa4, 0x34, 0xfb, 0x68, 0xb0,
    0xdb, 0xa7, 0xa0, 0x46, 0xa0, 0x9d, 0xdb, 0xbe, 0xfd, 0x55, 0x3e, 0x53, 0xb6, 0x0e, 0x84,
    0xc8, 0xef, 0xdf, 0xf2, 0x2b, 0x20, 0x55, 0x48, 0xff, 0x86, 0xec, 0x57, 0x6d, 0x0f, 0x06,
    0x01, 0x0b, 0xcb, 0x7a, 0xe9};
static const uint8_t VEC_EDDSA_1[32] = {
    0x89, 0xc4, 0x49, 0xb0, 0x1f, 0xf2, 0x9c, 0x81, 0x58, 0xdf, 0xe6, 0xae, 0x4f, 0x62, 0xf8, 0xc6,
    0x46, 0xc7, 0x3d, 0x34, 0xe5, 0x2b, 0x35, 0x69, 0x13, 0x8b, 0xf5, 0xb6, 0x3f, 0x44, 0x23, 0x79};
static const uint8_t VEC_ES256_RETIRED[65] = {
    0x04, 0x9f, 0x67, 0xe2, 0xb0, 0x22, 0x79, 0x9c, 0xa6, 0x9c, 0x87, 0xd9, 0xa5, 0xa0, 0x3d,
    0x73, 0xe1, 0x3e, 0x26, 0xb2, 0xa9, 0xbf, 0x34, 0x5d, 0xc2, 0xbd, 0x85, 0x6d, 0x82, 0x41,
    0x52, 0x73, 0xa3, 0x83, 0x88, 0x83, 0x83, 0x51, 0xc2, 0x9c, 0x5d, 0xea, 0xf4, 0x09, 0x21,
    0x60, 0x32, 0x26, 0x8b, 0x6f, 0x9e, 0xc2, 0x8d, 0xbe, 0x5c, 0x29, 0x04, 0xf8, 0x60, 0x8a,
    0xc4, 0x36, 0x44, 0x39, 0x98};

#define DAY_2020_01_01 18262
#define DAY_2020_12_31 18627
#define DAY_2027_06_01 20970

static cityid_engine *engine;
static cityid_key *es256_key, *eddsa_key;

static void add(int alg, const uint8_t *raw, size_t len, const char *kid, int has_from,
                int64_t from, int has_until, int64_t until)
{
    cityid_key *key = NULL;
    CHECK(cityid_key_new(alg, raw, len, &key) == CITYID_OK);
    CHECK(cityid_engine_add(engine, key, (const uint8_t *)kid, has_from, from, has_until,
                            until) == CITYID_OK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(cityid_init() == 0);
    engine = cityid_engine_new(4);
    CHECK(engine != NULL);
    /* The retired key posing as VEC-ES256-1 (wire kid dc9e) comes first: a candidate
     * whose signature never verifies for that kid's credentials. */
    add(CITYID_ES256, VEC_ES256_RETIRED, sizeof VEC_ES256_RETIRED, "\xdc\x9e", 0, 0, 0, 0);
    add(CITYID_ES256, VEC_ES256_1, sizeof VEC_ES256_1, "\xdc\x9e", 0, 0, 0, 0);
    add(CITYID_EDDSA, VEC_EDDSA_1, sizeof VEC_EDDSA_1, "\x11\x63", 0, 0, 0, 0);
    add(CITYID_ES256, VEC_ES256_RETIRED, sizeof VEC_ES256_RETIRED, "\x1d\xbf", 1, DAY_2020_01_01,
        1, DAY_2020_12_31);
    CHECK(cityid_engine_size(engine) == 4);
    CHECK(cityid_key_new(CITYID_ES256, VEC_ES256_1, sizeof VEC_ES256_1, &es256_key) == CITYID_OK);
    CHECK(cityid_key_new(CITYID_EDDSA, VEC_EDDSA_1, sizeof VEC_EDDSA_1, &eddsa_key) == CITYID_OK);
    return 0;
}

static volatile uint8_t sink;

static void check_slice(cityid_bytes slice, const uint8_t *data, size_t size, size_t max)
{
    if (slice.ptr == NULL)
        return;
    CHECK(slice.ptr >= data && slice.len <= size && slice.ptr + slice.len <= data + size);
    CHECK(slice.len <= max);
    for (size_t i = 0; i < slice.len; i++) /* every byte of it lies in the input (ASan) */
        sink ^= slice.ptr[i];
}

static void check_claims(const cityid_claims *c, const uint8_t *data, size_t size)
{
    CHECK(c->name.ptr != NULL && c->name.len >= 1);
    check_slice(c->name, data, size, 100);
    check_slice(c->gender, data, size, 32);
    check_slice(c->card_key, data, size, 33);
    check_slice(c->tag_uid, data, size, 10);
    check_slice(c->pseudonym_key, data, size, 33);
    CHECK(c->gender.ptr == NULL || c->gender.len >= 1);
    CHECK(c->date_of_birth >= -65536 && c->expires <= 65535);
    CHECK(c->date_of_birth <= c->issued && c->issued <= c->expires);
    int year, month, day;
    cityid_civil_from_days(c->issued, &year, &month, &day);
    CHECK(year >= 1790 && year <= 2149 && month >= 1 && month <= 12 && day >= 1 && day <= 31);
}

/* The batch entry point against single calls: same status, rule, key and claims. */
static void check_batch(const uint8_t *data, size_t size, int64_t today)
{
    cityid_bytes blobs[2] = {{data, size}, {data + size / 2, size - size / 2}};
    cityid_outcome batch[2];
    cityid_verify_batch(engine, blobs, 2, today, batch);
    for (size_t i = 0; i < 2; i++) {
        cityid_verified single;
        const char *reason = NULL;
        cityid_status status = cityid_verify(engine, blobs[i].ptr, blobs[i].len, &single);
        CHECK(batch[i].status == status);
        if (status != CITYID_OK) {
            CHECK(batch[i].reason == single.reason && batch[i].dates == CITYID_OK);
            continue;
        }
        CHECK(batch[i].verified.key_index == single.key_index);
        CHECK(memcmp(&batch[i].verified.claims, &single.claims, sizeof single.claims) == 0);
        CHECK(batch[i].dates == cityid_check_dates(engine, &single, today, &reason));
        CHECK(batch[i].reason == reason);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cityid_verified verified;
    cityid_status status = cityid_verify(engine, data, size, &verified);
    CHECK(status <= CITYID_INVALID_CLAIM || status == CITYID_NO_MEMORY);
    CHECK(status == CITYID_OK || verified.reason != NULL);
    if (status == CITYID_OK) {
        CHECK(verified.key_index < cityid_engine_size(engine));
        check_claims(&verified.claims, data, size);
        const char *reason = NULL;
        int64_t days[] = {INT64_MIN, -65537, verified.claims.issued, DAY_2027_06_01,
                          verified.claims.expires + 1, INT64_MAX};
        for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
            cityid_status dates = cityid_check_dates(engine, &verified, days[i], &reason);
            CHECK(dates == CITYID_OK || dates == CITYID_KEY_NOT_VALID ||
                  dates == CITYID_NOT_YET_VALID || dates == CITYID_EXPIRED);
        }
        CHECK(cityid_status_at(data, size, 2, verified.claims.status_index) <= 3);
    }

    int64_t today = DAY_2027_06_01;
    if (status == CITYID_OK && (data[0] & 1))
        today = verified.claims.issued;
    check_batch(data, size, today);

    cityid_claims claims;
    const char *reason = NULL;
    if (cityid_parse_claims(data, size, &claims, &reason) == CITYID_OK)
        check_claims(&claims, data, size);
    else
        CHECK(reason != NULL);

    if (size > 0) {
        unsigned bits = 1u << (data[0] & 3);
        uint64_t index = 0;
        memcpy(&index, data + 1, size - 1 < sizeof index ? size - 1 : sizeof index);
        int value = cityid_status_at(data, size, bits, index);
        CHECK(value >= -1 && value < (1 << bits));
        CHECK(cityid_status_at(data, size, 3, 0) == -1);

        /* Any int32 day number and back (the binding's dates lie well inside). */
        int32_t days = 0;
        memcpy(&days, data, size < sizeof days ? size : sizeof days);
        int year, month, day;
        cityid_civil_from_days(days, &year, &month, &day);
        CHECK(month >= 1 && month <= 12 && day >= 1 && day <= 31);
        CHECK(cityid_days_from_civil(year, month, day) == days);
    }

    /* Key loading, and any r || s as a signature (one input in eight: checks are slow). */
    if (size >= 1 && (data[0] & 7) == 7) {
        cityid_key *key = NULL;
        for (int alg = CITYID_EDDSA; alg <= CITYID_ES256; alg++) {
            if (cityid_key_new(alg, data + 1, size - 1, &key) == CITYID_OK) {
                CHECK(cityid_key_alg(key) == alg);
                cityid_key_free(key);
            }
        }
        if (size >= 65) {
            const uint8_t *signature = data + size - 64;
            CHECK(cityid_key_verify(es256_key, data, size - 64, signature, 64) ==
                  CITYID_BAD_SIGNATURE);
            CHECK(cityid_key_verify(eddsa_key, data, size - 64, signature, 64) ==
                  CITYID_BAD_SIGNATURE);
            CHECK(cityid_key_verify(es256_key, data, size, data, size) == CITYID_BAD_SIGNATURE);
        }
    }
    return 0;
}
