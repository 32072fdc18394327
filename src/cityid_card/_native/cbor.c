#include "cbor.h"

#include <string.h>

static int fail(cbor_reader *r, const char *error)
{
    r->error = error;
    return -1;
}

int cbor_head_read(cbor_reader *r, cbor_head *h)
{
    if (cbor_left(r) < 1)
        return fail(r, "CBOR data ends before an item");
    uint8_t initial = r->data[r->pos];
    unsigned info = initial & 0x1f;
    h->major = initial >> 5;
    if (h->major == CBOR_SIMPLE) {
        if (info < CBOR_FALSE || info > CBOR_NULL)
            return fail(r, "CBOR floating-point or simple value not allowed");
        h->arg = info;
        r->pos += 1;
        return 0;
    }
    if (info < 24) {
        h->arg = info;
        r->pos += 1;
        return 0;
    }
    if (info > 27)
        return fail(r, "indefinite length or reserved CBOR head");
    size_t size = (size_t)1 << (info - 24);
    if (cbor_left(r) - 1 < size)
        return fail(r, "CBOR data ends inside an item head");
    uint64_t arg = 0;
    for (size_t i = 0; i < size; i++)
        arg = (arg << 8) | r->data[r->pos + 1 + i];
    uint64_t shortest = size == 1 ? 24 : (uint64_t)1 << (4 * size);
    if (arg < shortest)
        return fail(r, "CBOR integer or length not in its shortest form");
    h->arg = arg;
    r->pos += 1 + size;
    return 0;
}

int cbor_string(cbor_reader *r, const cbor_head *h, cityid_bytes *out)
{
    if (h->arg > cbor_left(r))
        return fail(r, "CBOR string runs past the end of the data");
    out->ptr = r->data + r->pos;
    out->len = (size_t)h->arg;
    r->pos += (size_t)h->arg;
    return 0;
}

int cbor_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (b >= 0xc2 && b <= 0xdf) {
            extra = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            extra = 2;
            if (b == 0xe0)
                lo = 0xa0; /* overlong */
            else if (b == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (b >= 0xf0 && b <= 0xf4) {
            extra = 3;
            if (b == 0xf0)
                lo = 0x90; /* overlong */
            else if (b == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (len - i - 1 < extra)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= extra; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += 1 + extra;
    }
    return 1;
}

/* Bytewise order of encoded keys, a shorter key first when it is a prefix. */
static int key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c != 0)
        return c;
    return (a_len > b_len) - (a_len < b_len);
}

static int map_entries(cbor_reader *r, uint64_t count, unsigned depth)
{
    const uint8_t *previous = NULL;
    size_t previous_len = 0;
    /* Keys equal as Python values although distinct in CBOR: 0 and false, 1 and true. */
    int seen_zero = 0, seen_one = 0, seen_false = 0, seen_true = 0;
    for (uint64_t i = 0; i < count; i++) {
        size_t key_start = r->pos;
        if (cbor_item(r, depth) != 0)
            return -1;
        const uint8_t *key = r->data + key_start;
        size_t key_len = r->pos - key_start;
        if (previous != NULL && key_compare(key, key_len, previous, previous_len) <= 0)
            return fail(r, "CBOR map keys are duplicated or not in canonical order");
        previous = key;
        previous_len = key_len;
        unsigned key_major = key[0] >> 5;
        if (key_major == CBOR_ARRAY || key_major == CBOR_MAP)
            return fail(r, "CBOR map key is an array or a map");
        if (key_len == 1) {
            seen_zero |= key[0] == 0x00;
            seen_one |= key[0] == 0x01;
            seen_false |= key[0] == 0xf4;
            seen_true |= key[0] == 0xf5;
        }
        if ((seen_zero && seen_false) || (seen_one && seen_true))
            return fail(r, "CBOR map keys are duplicated as Python values");
        if (cbor_item(r, depth) != 0)
            return -1;
    }
    return 0;
}

int cbor_item(cbor_reader *r, unsigned depth)
{
    cbor_head h;
    cityid_bytes s;
    if (cbor_head_read(r, &h) != 0)
        return -1;
    switch (h.major) {
    case CBOR_UINT:
    case CBOR_NEGINT:
    case CBOR_SIMPLE:
        return 0;
    case CBOR_BYTES:
        return cbor_string(r, &h, &s);
    case CBOR_TEXT:
        if (cbor_string(r, &h, &s) != 0)
            return -1;
        if (!cbor_utf8_valid(s.ptr, s.len))
            return fail(r, "CBOR text string is not valid UTF-8");
        return 0;
    case CBOR_ARRAY:
    case CBOR_MAP:
        if (depth >= CBOR_MAX_DEPTH)
            return fail(r, "CBOR nesting is too deep");
        /* Every element takes at least one byte: a count beyond that is a lie. */
        if (h.arg > cbor_left(r))
            return fail(r, "CBOR container claims more items than there are bytes");
        if (h.major == CBOR_MAP)
            return map_entries(r, h.arg, depth + 1);
        for (uint64_t i = 0; i < h.arg; i++)
            if (cbor_item(r, depth + 1) != 0)
                return -1;
        return 0;
    default:
        return fail(r, "CBOR tags are not allowed here");
    }
}

int cbor_check(const uint8_t *data, size_t len, const char **error)
{
    cbor_reader r;
    cbor_reader_init(&r, data, len);
    if (cbor_item(&r, 0) != 0) {
        *error = r.error;
        return -1;
    }
    if (cbor_left(&r) != 0) {
        *error = "trailing bytes after the CBOR item";
        return -1;
    }
    return 0;
}
