/*
 * The strict CBOR profile of specs/credential.md, section 3 (the C side of _cbor.py):
 * deterministic encoding, integers, byte and text strings, arrays, maps, false, true
 * and null only, nesting at most CBOR_MAX_DEPTH deep.
 *
 * Every read goes through a cbor_reader, which checks the bytes left before it reads.
 */
#ifndef CITYID_CBOR_H
#define CITYID_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "cityid.h"

#define CBOR_MAX_DEPTH 16

enum {
    CBOR_UINT = 0,
    CBOR_NEGINT = 1,
    CBOR_BYTES = 2,
    CBOR_TEXT = 3,
    CBOR_ARRAY = 4,
    CBOR_MAP = 5,
    CBOR_TAG = 6,
    CBOR_SIMPLE = 7, /* only false, true and null get through cbor_head */
};
#define CBOR_FALSE 20
#define CBOR_TRUE 21
#define CBOR_NULL 22

typedef struct cbor_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    const char *error; /* set when a read fails */
} cbor_reader;

typedef struct cbor_head {
    unsigned major;
    uint64_t arg; /* the value, length or count; for CBOR_SIMPLE the simple value */
} cbor_head;

static inline void cbor_reader_init(cbor_reader *r, const uint8_t *data, size_t len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->error = NULL;
}

static inline size_t cbor_left(const cbor_reader *r)
{
    return r->len - r->pos;
}

/* Read one head in its shortest form; 0 on success, -1 (r->error set) otherwise. */
int cbor_head_read(cbor_reader *r, cbor_head *h);
/* After a string head: the string's bytes (text is not re-validated here). */
int cbor_string(cbor_reader *r, const cbor_head *h, cityid_bytes *out);
/* Check and skip one whole item whose outermost container would sit at `depth`. */
int cbor_item(cbor_reader *r, unsigned depth);
/* The bytes hold exactly one item of the profile, nothing after it. */
int cbor_check(const uint8_t *data, size_t len, const char **error);
/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
int cbor_utf8_valid(const uint8_t *s, size_t len);

#endif
