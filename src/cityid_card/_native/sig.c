/*
 * Signature checks: ES256 through OpenSSL 3; Ed25519 through libsodium's
 * crypto_sign_verify_detached when built with it (CITYID_HAVE_SODIUM), else OpenSSL.
 * No curve arithmetic of our own.
 *
 * An ES256 check hashes the message, encodes r || s as the DER ECDSA-Sig-Value OpenSSL
 * takes, and runs EVP_PKEY_verify on a context made for the key. Making that context
 * costs about 2 % of a check, so each key keeps a few spare ones: a thread takes one
 * with an atomic exchange, or makes its own when none is free, and gives it back after
 * (OpenSSL allows EVP_PKEY_verify to be called again on an initialised context, and a
 * context is only ever used by one thread at a time).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/opensslv.h>

#ifdef CITYID_HAVE_SODIUM
#include <sodium.h>
#endif

#include "cityid.h"

#if OPENSSL_VERSION_MAJOR < 3
#error "OpenSSL 3 is required"
#endif

#define SPARE_CONTEXTS 4
#define P256_SCALAR_SIZE 32
#define SHA256_SIZE 32

struct cityid_key {
    int alg;
    EVP_PKEY *pkey; /* ES256, and EdDSA without libsodium */
    EVP_MD *sha256; /* ES256 */
    uint8_t ed25519[CITYID_ED25519_KEY_SIZE];
    int verifies_nothing; /* EdDSA without libsodium: a key libsodium would refuse */
    _Atomic(EVP_PKEY_CTX *) spare[SPARE_CONTEXTS];
};

#ifndef CITYID_HAVE_SODIUM
/*
 * libsodium's crypto_sign_verify_detached (which the Python twin calls through PyNaCl)
 * refuses, before any arithmetic, a signature whose R has small order and a public key
 * of small order or with a non-canonical encoding (y >= p). OpenSSL does not: it
 * accepts, for one, R = the identity with S = k * a, a second signature any key holder
 * can make. So this path refuses the same encodings, from libsodium's list: the y of
 * the points of order 1, 2, 4 and 8, and p and p + 1, compared without the sign bit.
 */
static const uint8_t SMALL_ORDER[][32] = {
    {0x00},
    {0x01},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
     0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
     0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static int has_small_order(const uint8_t point[32])
{
    for (size_t i = 0; i < sizeof SMALL_ORDER / sizeof SMALL_ORDER[0]; i++)
        if (memcmp(point, SMALL_ORDER[i], 31) == 0 && (point[31] & 0x7f) == SMALL_ORDER[i][31])
            return 1;
    return 0;
}

static int is_canonical(const uint8_t point[32])
{
    /* y < p = 2^255 - 19: anything but 0x7fff...ff ed..ff with the sign bit ignored. */
    if ((point[31] & 0x7f) != 0x7f || point[0] < 0xed)
        return 1;
    for (size_t i = 1; i < 31; i++)
        if (point[i] != 0xff)
            return 1;
    return 0;
}
#endif

int cityid_init(void)
{
#ifdef CITYID_HAVE_SODIUM
    if (sodium_init() < 0)
        return -1;
#endif
    return 0;
}

const char *cityid_signature_library(int cose_alg)
{
#ifdef CITYID_HAVE_SODIUM
    if (cose_alg == CITYID_EDDSA)
        return "libsodium " SODIUM_VERSION_STRING;
#else
    (void)cose_alg;
#endif
    return OpenSSL_version(OPENSSL_VERSION);
}

const char *cityid_signature_api(int cose_alg)
{
#ifdef CITYID_HAVE_SODIUM
    if (cose_alg == CITYID_EDDSA)
        return "crypto_sign_verify_detached";
#endif
    return cose_alg == CITYID_EDDSA ? "EVP_DigestVerify" : "EVP_PKEY_verify";
}

int cityid_key_alg(const cityid_key *key)
{
    return key->alg;
}

static cityid_status load_p256(cityid_key *key, const uint8_t *raw, size_t raw_len)
{
    /* A SEC1 point: compressed (02, 03) or uncompressed (04); OpenSSL checks it is on
     * the curve. The infinity encoding (a lone 00) is refused, as pyca/cryptography does. */
    if (raw_len == 0 || raw[0] < 0x02 || raw[0] > 0x04)
        return CITYID_INVALID_KEY;
    key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (key->sha256 == NULL)
        return CITYID_CRYPTO_ERROR;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL)
        return CITYID_NO_MEMORY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)raw, raw_len),
        OSSL_PARAM_construct_end(),
    };
    cityid_status status = CITYID_OK;
    if (EVP_PKEY_fromdata_init(ctx) != 1)
        status = CITYID_CRYPTO_ERROR;
    else if (EVP_PKEY_fromdata(ctx, &key->pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        status = CITYID_INVALID_KEY;
    EVP_PKEY_CTX_free(ctx);
    return status;
}

cityid_status cityid_key_new(int cose_alg, const uint8_t *raw, size_t raw_len, cityid_key **out)
{
    *out = NULL;
    if (cose_alg != CITYID_ES256 && cose_alg != CITYID_EDDSA)
        return CITYID_UNSUPPORTED_ALGORITHM;
    cityid_key *key = calloc(1, sizeof *key);
    if (key == NULL)
        return CITYID_NO_MEMORY;
    key->alg = cose_alg;
    for (size_t i = 0; i < SPARE_CONTEXTS; i++)
        atomic_init(&key->spare[i], NULL);
    cityid_status status = CITYID_OK;
    if (cose_alg == CITYID_ES256) {
        status = load_p256(key, raw, raw_len);
    } else if (raw_len != CITYID_ED25519_KEY_SIZE) {
        status = CITYID_INVALID_KEY;
    } else {
        memcpy(key->ed25519, raw, CITYID_ED25519_KEY_SIZE);
#ifndef CITYID_HAVE_SODIUM
        key->verifies_nothing = has_small_order(raw) || !is_canonical(raw);
        key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, raw_len);
        if (key->pkey == NULL)
            status = CITYID_INVALID_KEY;
#endif
    }
    if (status != CITYID_OK) {
        ERR_clear_error();
        cityid_key_free(key);
        return status;
    }
    *out = key;
    return CITYID_OK;
}

void cityid_key_free(cityid_key *key)
{
    if (key == NULL)
        return;
    for (size_t i = 0; i < SPARE_CONTEXTS; i++)
        EVP_PKEY_CTX_free(atomic_exchange(&key->spare[i], NULL));
    EVP_PKEY_free(key->pkey);
    EVP_MD_free(key->sha256);
    free(key);
}

static EVP_PKEY_CTX *take_context(cityid_key *key)
{
    for (size_t i = 0; i < SPARE_CONTEXTS; i++) {
        EVP_PKEY_CTX *ctx = atomic_exchange(&key->spare[i], NULL);
        if (ctx != NULL)
            return ctx;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx != NULL && EVP_PKEY_verify_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void give_back_context(cityid_key *key, EVP_PKEY_CTX *ctx)
{
    for (size_t i = 0; i < SPARE_CONTEXTS; i++) {
        EVP_PKEY_CTX *expected = NULL;
        if (atomic_compare_exchange_strong(&key->spare[i], &expected, ctx))
            return;
    }
    EVP_PKEY_CTX_free(ctx);
}

/* One DER INTEGER of a 32-byte big-endian unsigned value, minimal as DER requires. */
static size_t der_integer(uint8_t *out, const uint8_t *value)
{
    size_t skip = 0;
    while (skip < P256_SCALAR_SIZE - 1 && value[skip] == 0)
        skip++;
    size_t len = P256_SCALAR_SIZE - skip;
    size_t pad = value[skip] >= 0x80;
    out[0] = 0x02;
    out[1] = (uint8_t)(len + pad);
    out[2] = 0x00;
    memcpy(out + 2 + pad, value + skip, len);
    return 2 + pad + len;
}

static cityid_status verify_p256(cityid_key *key, const uint8_t *message, size_t message_len,
                                 const uint8_t *signature)
{
    uint8_t digest[SHA256_SIZE];
    unsigned int digest_len = 0;
    /* SEQUENCE { INTEGER r, INTEGER s }: at most 2 + 2 * (2 + 33) = 72 bytes. */
    uint8_t der[2 + 2 * (2 + 1 + P256_SCALAR_SIZE)];
    if (EVP_Digest(message, message_len, digest, &digest_len, key->sha256, NULL) != 1 ||
        digest_len != SHA256_SIZE) {
        ERR_clear_error();
        return CITYID_CRYPTO_ERROR;
    }
    size_t body = der_integer(der + 2, signature);
    body += der_integer(der + 2 + body, signature + P256_SCALAR_SIZE);
    der[0] = 0x30;
    der[1] = (uint8_t)body;

    EVP_PKEY_CTX *ctx = take_context(key);
    if (ctx == NULL) {
        ERR_clear_error();
        return CITYID_NO_MEMORY;
    }
    int rc = EVP_PKEY_verify(ctx, der, 2 + body, digest, SHA256_SIZE);
    if (rc >= 0)
        give_back_context(key, ctx);
    else
        EVP_PKEY_CTX_free(ctx); /* not knowing what state an error left it in */
    if (rc != 1) {
        /* Out-of-range r or s land here too (OpenSSL reports them as errors). */
        ERR_clear_error();
        return CITYID_BAD_SIGNATURE;
    }
    return CITYID_OK;
}

static cityid_status verify_ed25519(cityid_key *key, const uint8_t *message, size_t message_len,
                                    const uint8_t *signature)
{
#ifdef CITYID_HAVE_SODIUM
    if (crypto_sign_verify_detached(signature, message, message_len, key->ed25519) != 0)
        return CITYID_BAD_SIGNATURE;
    return CITYID_OK;
#else
    if (key->verifies_nothing || has_small_order(signature))
        return CITYID_BAD_SIGNATURE;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return CITYID_NO_MEMORY;
    cityid_status status = CITYID_OK;
    if (EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, key->pkey, NULL) != 1)
        status = CITYID_CRYPTO_ERROR;
    else if (EVP_DigestVerify(ctx, signature, CITYID_SIGNATURE_SIZE, message, message_len) != 1)
        status = CITYID_BAD_SIGNATURE;
    EVP_MD_CTX_free(ctx);
    if (status != CITYID_OK)
        ERR_clear_error();
    return status;
#endif
}

cityid_status cityid_key_verify(cityid_key *key, const uint8_t *message, size_t message_len,
                                const uint8_t *signature, size_t signature_len)
{
    if (signature_len != CITYID_SIGNATURE_SIZE)
        return CITYID_BAD_SIGNATURE;
    if (key->alg == CITYID_ES256)
        return verify_p256(key, message, message_len, signature);
    return verify_ed25519(key, message, message_len, signature);
}
