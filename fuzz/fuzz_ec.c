/*
 * libFuzzer harness for the point arithmetic of the C core (ec.c: cityid_ec_mul_add,
 * cityid_ec_add), as PACE's Generic Mapping uses it through cityid_card.eac.curve.
 *
 * An input is a header of two bytes, then fields read in order (zero-padded when the
 * input ends early):
 *   byte 0: the curve (bit 0: P-256 or brainpoolP256r1; 0xff: an unknown curve);
 *   byte 1: flags: 1 raw point, 2 addend, 4 raw addend, 8 odd lengths;
 *   the point: 65 raw bytes (flag 1), else a 32-byte scalar a for the point a*G;
 *   the scalar k: 32 bytes (flag 8: its length is the next byte, mod 40);
 *   the addend: 65 raw bytes (flag 4), else a 32-byte scalar b for b*G.
 * Raw points exercise decoding (and must be refused unless they are on the curve);
 * derived ones reach the products, which are checked against the fixed-base product of
 * the same scalar computed modulo the order: k*(a*G) + b*G == (k*a + b)*G, and
 * a*G + b*G == (a + b)*G, the identity included. Any violation traps.
 *
 * Build and run: fuzz/run.sh [seconds] (it builds and runs both harnesses).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "cityid.h"

#define CHECK(condition)                                                                        \
    do {                                                                                        \
        if (!(condition))                                                                       \
            __builtin_trap();                                                                   \
    } while (0)

#define SCALAR CITYID_EC_SCALAR_SIZE
#define POINT CITYID_EC_POINT_SIZE
#define INPUT (2 + POINT + 1 + SCALAR + POINT)

enum { RAW_POINT = 1, ADDEND = 2, RAW_ADDEND = 4, ODD_LENGTHS = 8 };

static BIGNUM *orders[CITYID_CURVE_COUNT];
static BN_CTX *bn;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const int nids[CITYID_CURVE_COUNT] = {NID_X9_62_prime256v1, NID_brainpoolP256r1};
    (void)argc;
    (void)argv;
    CHECK(cityid_init() == 0);
    CHECK((bn = BN_CTX_new()) != NULL);
    for (int i = 0; i < CITYID_CURVE_COUNT; i++) {
        EC_GROUP *group = EC_GROUP_new_by_curve_name(nids[i]);
        CHECK(group != NULL);
        CHECK((orders[i] = BN_dup(EC_GROUP_get0_order(group))) != NULL);
        EC_GROUP_free(group);
    }
    return 0;
}

/* (x * y + z) mod n as 32 big-endian bytes; y NULL: 1. */
static void mod_combination(int curve, const uint8_t x[SCALAR], const uint8_t *y,
                            const uint8_t z[SCALAR], uint8_t out[SCALAR])
{
    BIGNUM *a = BN_bin2bn(x, SCALAR, NULL), *c = BN_bin2bn(z, SCALAR, NULL);
    BIGNUM *b = y == NULL ? BN_dup(BN_value_one()) : BN_bin2bn(y, SCALAR, NULL);
    BIGNUM *r = BN_new();
    CHECK(a != NULL && b != NULL && c != NULL && r != NULL);
    CHECK(BN_mod_mul(r, a, b, orders[curve], bn) == 1);
    CHECK(BN_mod_add(r, r, c, orders[curve], bn) == 1);
    CHECK(BN_bn2binpad(r, out, SCALAR) == SCALAR);
    BN_free(a);
    BN_free(b);
    BN_free(c);
    BN_free(r);
}

/* scalar * G; returns 1 when it is the identity. */
static int on_generator(int curve, const uint8_t scalar[SCALAR], uint8_t out[POINT])
{
    int identity = -1;
    CHECK(cityid_ec_mul_add(curve, NULL, 0, scalar, SCALAR, NULL, 0, out, &identity) ==
          CITYID_OK);
    CHECK(identity == 0 || identity == 1);
    return identity;
}

/* A result must read back as the same point of the curve (1 * R == R). */
static void check_readable(int curve, const uint8_t point[POINT])
{
    static const uint8_t one[SCALAR] = {[SCALAR - 1] = 1};
    uint8_t again[POINT];
    int identity = -1;
    CHECK(point[0] == 0x04);
    CHECK(cityid_ec_mul_add(curve, point, POINT, one, SCALAR, NULL, 0, again, &identity) ==
          CITYID_OK);
    CHECK(identity == 0 && memcmp(again, point, POINT) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t in[INPUT] = {0};
    memcpy(in, data, size < INPUT ? size : INPUT);
    const uint8_t *cursor = in + 2;
    int curve = in[0] == 0xff ? CITYID_CURVE_COUNT : in[0] & 1;
    unsigned flags = in[1];

    uint8_t point[POINT], addend[POINT], a[SCALAR] = {0}, b[SCALAR] = {0}, out[POINT];
    const uint8_t *k;
    size_t k_len = SCALAR;
    int point_identity = 0, addend_identity = 0, identity = -1;
    if (flags & RAW_POINT) {
        memcpy(point, cursor, POINT);
        cursor += POINT;
    } else {
        memcpy(a, cursor, SCALAR);
        cursor += SCALAR;
    }
    if (flags & ODD_LENGTHS)
        k_len = *cursor++ % 40;
    k = cursor;
    cursor += SCALAR;
    if (flags & RAW_ADDEND)
        memcpy(addend, cursor, POINT);
    else
        memcpy(b, cursor, SCALAR);

    if (curve == CITYID_CURVE_COUNT) { /* an unknown curve is refused before anything */
        CHECK(cityid_ec_mul_add(curve, NULL, 0, k, SCALAR, NULL, 0, out, &identity) ==
              CITYID_MALFORMED);
        CHECK(cityid_ec_add(curve, point, POINT, point, POINT, out, &identity) ==
              CITYID_MALFORMED);
        return 0;
    }
    if (!(flags & RAW_POINT))
        point_identity = on_generator(curve, a, point);
    if ((flags & ADDEND) && !(flags & RAW_ADDEND))
        addend_identity = on_generator(curve, b, addend);
    if (point_identity || addend_identity) /* the identity has no 65-byte encoding */
        return 0;
    const uint8_t *second = (flags & ADDEND) ? addend : NULL;

    cityid_status status = cityid_ec_mul_add(curve, point, POINT, k, k_len, second,
                                              second ? POINT : 0, out, &identity);
    if (k_len != SCALAR) { /* checked before the points */
        CHECK(status == CITYID_MALFORMED);
        return 0;
    }
    CHECK(status == CITYID_OK || status == CITYID_INVALID_KEY);
    if (status == CITYID_INVALID_KEY) {
        CHECK((flags & (RAW_POINT | RAW_ADDEND)) != 0);
        for (size_t i = 0; i < POINT; i++)
            CHECK(out[i] == 0);
        return 0;
    }
    CHECK(identity == 0 || identity == 1);
    if (identity)
        for (size_t i = 0; i < POINT; i++)
            CHECK(out[i] == 0);
    else
        check_readable(curve, out);
    if (!(flags & RAW_POINT) && !((flags & ADDEND) && (flags & RAW_ADDEND))) {
        /* k*(a*G) [+ b*G] == (k*a [+ b])*G */
        uint8_t expected[POINT], combined[SCALAR];
        static const uint8_t zero[SCALAR];
        mod_combination(curve, k, a, (flags & ADDEND) ? b : zero, combined);
        int expected_identity = on_generator(curve, combined, expected);
        CHECK(identity == expected_identity);
        CHECK(identity || memcmp(out, expected, POINT) == 0);
        if (flags & ADDEND) { /* a*G + b*G == (a + b)*G */
            uint8_t sum[POINT];
            int sum_identity = -1;
            CHECK(cityid_ec_add(curve, point, POINT, addend, POINT, sum, &sum_identity) ==
                  CITYID_OK);
            mod_combination(curve, a, NULL, b, combined);
            CHECK(sum_identity == on_generator(curve, combined, expected));
            CHECK(sum_identity || memcmp(sum, expected, POINT) == 0);
        }
    }
    return 0;
}
