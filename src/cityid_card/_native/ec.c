/*
 * Point arithmetic on named 256-bit prime curves through OpenSSL 3's EC_POINT, for
 * PACE's Generic Mapping (cityid_card/eac/curve.py, _OpenSSL): the products on
 * arbitrary points that key agreement APIs do not offer. No curve arithmetic of our
 * own: decoding (and its checks), the products and the sums are OpenSSL's.
 *
 * - Every input point is the uncompressed encoding 04 || X || Y of exactly
 *   CITYID_EC_POINT_SIZE bytes; EC_POINT_oct2point refuses coordinates >= p and points
 *   off the curve (both curves have cofactor 1, so a point of the curve is one of the
 *   prime-order group). The lone 00 that OpenSSL reads as the identity is refused by
 *   the length check.
 * - The scalar may be secret: it lives in a BIGNUM flagged BN_FLG_CONSTTIME, freed with
 *   BN_clear_free; the product, a secret too in PACE (SK_map * PK_map), is freed with
 *   EC_POINT_clear_free. EC_POINT_mul is called with one scalar at a time (the
 *   generator's or one point's), the form OpenSSL runs in constant time (P-256:
 *   ecp_nistz256's windowed and precomputed-table products; other curves: the
 *   Montgomery ladder). The sum with the addend (EC_POINT_add) is not constant-time.
 * - The groups are built once per process (CRYPTO_THREAD_run_once) and only read
 *   after that, so any number of threads may call these functions at once.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "cityid.h"

static const int CURVE_NIDS[CITYID_CURVE_COUNT] = {
    [CITYID_CURVE_P256] = NID_X9_62_prime256v1,
    [CITYID_CURVE_BRAINPOOL_P256R1] = NID_brainpoolP256r1,
};

static CRYPTO_ONCE groups_once = CRYPTO_ONCE_STATIC_INIT;
static EC_GROUP *groups[CITYID_CURVE_COUNT]; /* NULL when OpenSSL could not build one */

static void build_groups(void)
{
    for (int i = 0; i < CITYID_CURVE_COUNT; i++)
        groups[i] = EC_GROUP_new_by_curve_name(CURVE_NIDS[i]);
    ERR_clear_error();
}

/* The group of `curve`; NULL (and *status set) when there is none. */
static const EC_GROUP *group_of(int curve, cityid_status *status)
{
    if (curve < 0 || curve >= CITYID_CURVE_COUNT) {
        *status = CITYID_MALFORMED;
        return NULL;
    }
    if (!CRYPTO_THREAD_run_once(&groups_once, build_groups) || groups[curve] == NULL) {
        *status = CITYID_CRYPTO_ERROR;
        return NULL;
    }
    return groups[curve];
}

/* A new point read from an uncompressed encoding; NULL (and *status set) when it is not
 * one of the group's points. */
static EC_POINT *read_point(const EC_GROUP *group, const uint8_t *data, size_t len, BN_CTX *ctx,
                            cityid_status *status)
{
    if (len != CITYID_EC_POINT_SIZE || data[0] != 0x04) {
        *status = CITYID_INVALID_KEY;
        return NULL;
    }
    EC_POINT *point = EC_POINT_new(group);
    if (point == NULL) {
        *status = CITYID_NO_MEMORY;
        return NULL;
    }
    if (EC_POINT_oct2point(group, point, data, len, ctx) != 1) {
        EC_POINT_free(point);
        *status = CITYID_INVALID_KEY;
        return NULL;
    }
    return point;
}

/* `result` as 04 || X || Y into out, or *identity = 1 (out zeroed) for the identity. */
static cityid_status write_point(const EC_GROUP *group, const EC_POINT *result, BN_CTX *ctx,
                                 uint8_t out[CITYID_EC_POINT_SIZE], int *identity)
{
    if (EC_POINT_is_at_infinity(group, result)) {
        *identity = 1;
        return CITYID_OK;
    }
    size_t written = EC_POINT_point2oct(group, result, POINT_CONVERSION_UNCOMPRESSED, out,
                                        CITYID_EC_POINT_SIZE, ctx);
    if (written != CITYID_EC_POINT_SIZE) {
        OPENSSL_cleanse(out, CITYID_EC_POINT_SIZE);
        return CITYID_CRYPTO_ERROR;
    }
    return CITYID_OK;
}

cityid_status cityid_ec_mul_add(int curve, const uint8_t *point, size_t point_len,
                                const uint8_t *scalar, size_t scalar_len, const uint8_t *addend,
                                size_t addend_len, uint8_t out[CITYID_EC_POINT_SIZE],
                                int *identity)
{
    cityid_status status = CITYID_OK;
    *identity = 0;
    memset(out, 0, CITYID_EC_POINT_SIZE);
    const EC_GROUP *group = group_of(curve, &status);
    if (group == NULL)
        return status;
    if (scalar_len != CITYID_EC_SCALAR_SIZE)
        return CITYID_MALFORMED;
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *k = BN_secure_new();
    EC_POINT *base = NULL, *other = NULL, *result = EC_POINT_new(group);
    if (ctx == NULL || k == NULL || result == NULL) {
        status = CITYID_NO_MEMORY;
        goto done;
    }
    BN_set_flags(k, BN_FLG_CONSTTIME);
    if ((point != NULL && (base = read_point(group, point, point_len, ctx, &status)) == NULL) ||
        (addend != NULL && (other = read_point(group, addend, addend_len, ctx, &status)) == NULL))
        goto done;
    if (BN_bin2bn(scalar, (int)scalar_len, k) == NULL) {
        status = CITYID_NO_MEMORY;
        goto done;
    }
    /* One scalar per call: g_scalar for the generator, or p_scalar for one point. */
    int multiplied = base == NULL ? EC_POINT_mul(group, result, k, NULL, NULL, ctx)
                                  : EC_POINT_mul(group, result, NULL, base, k, ctx);
    if (multiplied != 1 || (other != NULL && EC_POINT_add(group, result, result, other, ctx) != 1)) {
        status = CITYID_CRYPTO_ERROR;
        goto done;
    }
    status = write_point(group, result, ctx, out, identity);
done:
    if (status != CITYID_OK)
        ERR_clear_error();
    EC_POINT_clear_free(result);
    EC_POINT_free(other);
    EC_POINT_free(base);
    BN_clear_free(k);
    BN_CTX_free(ctx);
    return status;
}

cityid_status cityid_ec_add(int curve, const uint8_t *left, size_t left_len, const uint8_t *right,
                            size_t right_len, uint8_t out[CITYID_EC_POINT_SIZE], int *identity)
{
    cityid_status status = CITYID_OK;
    *identity = 0;
    memset(out, 0, CITYID_EC_POINT_SIZE);
    const EC_GROUP *group = group_of(curve, &status);
    if (group == NULL)
        return status;
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *a = NULL, *b = NULL, *sum = EC_POINT_new(group);
    if (ctx == NULL || sum == NULL) {
        status = CITYID_NO_MEMORY;
        goto done;
    }
    if ((a = read_point(group, left, left_len, ctx, &status)) == NULL ||
        (b = read_point(group, right, right_len, ctx, &status)) == NULL)
        goto done;
    if (EC_POINT_add(group, sum, a, b, ctx) != 1) {
        status = CITYID_CRYPTO_ERROR;
        goto done;
    }
    status = write_point(group, sum, ctx, out, identity);
done:
    if (status != CITYID_OK)
        ERR_clear_error();
    EC_POINT_clear_free(sum);
    EC_POINT_free(b);
    EC_POINT_free(a);
    BN_CTX_free(ctx);
    return status;
}
