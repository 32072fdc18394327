/*
 * Step 5 without NFC: the claims array against the closed schema, with the checks in
 * the order of Credential.from_claims (credential.py), so the first failure, and so
 * the outcome, is the same as the Python twin's.
 */
#include "cbor.h"

#define FORMAT_VERSION 1
#define MIN_CLAIMS 6
#define MAX_CLAIMS 8
#define MAX_NAME_BYTES 100
#define MAX_GENDER_BYTES 32
#define MAX_DAY 65535 /* and -65536: the days whose number takes at most 3 bytes */
#define MAX_STATUS_INDEX 0xffffffffu
#define COMPRESSED_POINT_SIZE 33

#define REJECT(status, text)                                                                    \
    do {                                                                                        \
        *reason = (text);                                                                       \
        return (status);                                                                        \
    } while (0)

/* White space as Python's str.strip() sees it (Py_UNICODE_ISSPACE, Unicode 14). */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The code point at s[i], which starts a sequence of valid UTF-8 ending by s[end]. */
static uint32_t code_point(const uint8_t *s, size_t i, size_t end)
{
    uint8_t b = s[i];
    size_t extra = b < 0x80 ? 0 : b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
    uint32_t c = extra == 0 ? b : (uint32_t)(b & (0x3f >> extra));
    for (size_t k = 1; k <= extra && i + k < end; k++)
        c = (c << 6) | (s[i + k] & 0x3f);
    return c;
}

/* name and gender: everything but NFC. The text is valid UTF-8 (cbor_check saw it). */
static cityid_status text(cbor_reader *r, size_t max_bytes, cityid_bytes *out, uint8_t *ascii,
                          const char **reason)
{
    cbor_head h;
    if (cbor_head_read(r, &h) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    if (h.major != CBOR_TEXT)
        REJECT(CITYID_INVALID_CLAIM, "a text claim is not a text string");
    if (cbor_string(r, &h, out) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    const uint8_t *s = out->ptr;
    size_t len = out->len;
    if (len < 1 || len > max_bytes)
        REJECT(CITYID_INVALID_CLAIM, "a text claim is too short or too long");
    size_t last = len - 1;
    while (last > 0 && (s[last] & 0xc0) == 0x80)
        last--;
    if (is_space(code_point(s, 0, len)) || is_space(code_point(s, last, len)))
        REJECT(CITYID_INVALID_CLAIM, "a text claim begins or ends with white space");
    *ascii = 1;
    for (size_t i = 0; i < len; i++) {
        /* Cc: U+0000..U+001F, U+007F, and U+0080..U+009F, which is c2 80..c2 9f. */
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < len && s[i + 1] <= 0x9f))
            REJECT(CITYID_INVALID_CLAIM, "a text claim contains a control character");
        if (s[i] >= 0x80)
            *ascii = 0;
    }
    return CITYID_OK;
}

static cityid_status day(cbor_reader *r, int32_t *out, const char **reason)
{
    cbor_head h;
    if (cbor_head_read(r, &h) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    if (h.major != CBOR_UINT && h.major != CBOR_NEGINT)
        REJECT(CITYID_INVALID_CLAIM, "a date is not an integer day number");
    if (h.arg > MAX_DAY) /* -1 - arg >= -65536 is arg <= 65535 too */
        REJECT(CITYID_INVALID_CLAIM, "a date is outside the range the format can hold");
    *out = h.major == CBOR_UINT ? (int32_t)h.arg : -1 - (int32_t)h.arg;
    return CITYID_OK;
}

static cityid_status extension(cbor_reader *r, cityid_claims *claims, const char **reason)
{
    cbor_head key, value;
    cityid_bytes data;
    if (cbor_head_read(r, &key) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    if (key.major != CBOR_UINT || key.arg < 1 || key.arg > 3)
        REJECT(CITYID_UNKNOWN_CLAIM, "the credential carries an extension the format does not define");
    if (cbor_head_read(r, &value) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    if (value.major != CBOR_BYTES)
        REJECT(CITYID_INVALID_CLAIM, "an extension value is not a byte string");
    if (cbor_string(r, &value, &data) != 0)
        REJECT(CITYID_MALFORMED, r->error);
    if (key.arg == 2) {
        if (data.len != 4 && data.len != 7 && data.len != 10)
            REJECT(CITYID_INVALID_CLAIM, "tag_uid must be 4, 7 or 10 bytes");
        claims->tag_uid = data;
        return CITYID_OK;
    }
    if (data.len != COMPRESSED_POINT_SIZE)
        REJECT(CITYID_INVALID_CLAIM, "a key extension must be 33 bytes");
    if (data.ptr[0] != 0x02 && data.ptr[0] != 0x03)
        REJECT(CITYID_INVALID_CLAIM, "a key extension must be a compressed SEC1 P-256 point");
    if (key.arg == 1)
        claims->card_key = data;
    else
        claims->pseudonym_key = data;
    return CITYID_OK;
}

cityid_status cityid_parse_claims(const uint8_t *payload, size_t len, cityid_claims *out,
                                  const char **reason)
{
    static const cityid_claims empty;
    cbor_reader r;
    cbor_head h;
    cityid_status status;
    *out = empty;
    if (cbor_check(payload, len, reason) != 0)
        return CITYID_MALFORMED;
    cbor_reader_init(&r, payload, len);

    if (cbor_head_read(&r, &h) != 0)
        REJECT(CITYID_MALFORMED, r.error);
    if (h.major != CBOR_ARRAY || h.arg == 0)
        REJECT(CITYID_MALFORMED, "the payload is not a non-empty claims array");
    uint64_t count = h.arg;

    if (cbor_head_read(&r, &h) != 0)
        REJECT(CITYID_MALFORMED, r.error);
    if (h.major != CBOR_UINT && h.major != CBOR_NEGINT)
        REJECT(CITYID_MALFORMED, "the format version is not an integer");
    if (h.major != CBOR_UINT || h.arg != FORMAT_VERSION)
        REJECT(CITYID_UNSUPPORTED_VERSION, "this library reads format version 1 only");
    if (count < MIN_CLAIMS)
        REJECT(CITYID_MALFORMED, "required claims are missing");
    if (count > MAX_CLAIMS)
        REJECT(CITYID_UNKNOWN_CLAIM, "the claims array holds more claims than the format defines");

    if ((status = text(&r, MAX_NAME_BYTES, &out->name, &out->name_ascii, reason)) != CITYID_OK)
        return status;
    if ((status = day(&r, &out->date_of_birth, reason)) != CITYID_OK ||
        (status = day(&r, &out->issued, reason)) != CITYID_OK ||
        (status = day(&r, &out->expires, reason)) != CITYID_OK)
        return status;
    if (cbor_head_read(&r, &h) != 0)
        REJECT(CITYID_MALFORMED, r.error);
    if (h.major != CBOR_UINT || h.arg > MAX_STATUS_INDEX)
        REJECT(CITYID_INVALID_CLAIM, "status_index must be an integer in 0 .. 2**32 - 1");
    out->status_index = (uint32_t)h.arg;

    if (count > 6) {
        if (cbor_left(&r) > 0 && r.data[r.pos] == 0xf6) {
            if (count == 7)
                REJECT(CITYID_MALFORMED, "a null gender is only allowed before extensions");
            r.pos += 1;
        } else if ((status = text(&r, MAX_GENDER_BYTES, &out->gender, &out->gender_ascii,
                                  reason)) != CITYID_OK) {
            return status;
        }
    }
    if (count == MAX_CLAIMS) {
        if (cbor_head_read(&r, &h) != 0)
            REJECT(CITYID_MALFORMED, r.error);
        if (h.major != CBOR_MAP || h.arg == 0)
            REJECT(CITYID_MALFORMED, "extensions must be a non-empty map");
        for (uint64_t i = 0; i < h.arg; i++)
            if ((status = extension(&r, out, reason)) != CITYID_OK)
                return status;
    }
    if (!(out->date_of_birth <= out->issued && out->issued <= out->expires))
        REJECT(CITYID_INVALID_CLAIM, "dates must satisfy date_of_birth <= issued <= expires");
    return CITYID_OK;
}
