/*
 * cityid_card._native: the CPython binding of the C core (cityid.h).
 *
 * Engine.verify reads the clock (or the `now` it is given) once, runs steps 1 to 7 (but
 * NFC) in the core with the GIL released, then, holding the GIL, the NFC check of
 * non-ASCII texts (unicodedata.is_normalized, the Python twin's own check), step 8 under
 * the status policy, and builds the VerifiedCredential or raises the final
 * CredentialError: verifier.Verifier.verify is one call into it. Engine.verify_many does
 * the same for a batch, releasing the GIL once per BATCH credentials, so threads scale.
 *
 * ec_mul_add and ec_add are the point arithmetic of ec.c for cityid_card.eac.curve
 * (PACE's Generic Mapping); ec_mul_add releases the GIL around OpenSSL's product.
 *
 * Thread safety: the core engine is immutable after Engine() returns, and status lists
 * are only read and replaced while holding the GIL, so every method may be called from
 * any threads at once (on CPython with a GIL).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cityid.h"

#define KEY_CACHE_SIZE 256
/* Credentials verify_many checks per release of the GIL (a few milliseconds of work). */
#define BATCH 64
#define MICROS 1000000
#define DAY_SECONDS 86400

enum { F_NAME, F_DATE_OF_BIRTH, F_ISSUED, F_EXPIRES, F_STATUS_INDEX, F_GENDER, F_CARD_KEY,
       F_TAG_UID, F_PSEUDONYM_KEY, F_COUNT };
/* In the order Credential.from_claims sets them. */
static const char *const FIELD_NAMES[F_COUNT] = {
    "name", "date_of_birth", "issued", "expires", "status_index",
    "gender", "card_key", "tag_uid", "pseudonym_key",
};

enum { R_CREDENTIAL, R_KID, R_ALG, R_STATUS, R_COUNT };
/* VerifiedCredential's fields, in the order its __init__ sets them. */
static const char *const RESULT_NAMES[R_COUNT] = {"credential", "kid", "alg", "status"};

/* Looked up once when the module is imported (single-phase init: it is never unloaded),
 * but for VerifiedCredential, which the first Engine() looks up (verifier.py imports
 * this module while it is being defined). */
static struct {
    PyObject *error_for[CITYID_CRYPTO_ERROR + 1]; /* exception class per core status */
    PyObject *revoked, *suspended, *status_unknown;   /* step 8's exception classes */
    PyObject *status_valid, *status_unknown_value;    /* CredentialStatus members */
    PyTypeObject *credential, *verified;
    PyObject *is_normalized, *nfc, *empty_tuple, *utcoffset, *one_million;
    PyObject *local_instant; /* verifier._local_instant, loaded with VerifiedCredential */
    PyObject *field[F_COUNT], *result_field[R_COUNT];
    PyObject *es256, *eddsa; /* the algorithms' names */
    PyObject *key_cache;     /* verify_signature's loaded keys */
} g;

static PyObject *raise_status(cityid_status status, const char *reason)
{
    if (status == CITYID_NO_MEMORY)
        return PyErr_NoMemory();
    if (status == CITYID_CRYPTO_ERROR || g.error_for[status] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the crypto library failed");
        return NULL;
    }
    PyErr_SetString(g.error_for[status], reason ? reason : "the credential is not valid");
    return NULL;
}

/* An int argument as int64; out-of-range values saturate when `clamp` is set (day
 * numbers: the claims' dates are in -65536..65535, so comparisons keep their result). */
static int int64_arg(PyObject *value, const char *what, int clamp, int64_t *out)
{
    int overflow = 0;
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", what);
        return -1;
    }
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow != 0 && !clamp) {
        PyErr_Format(PyExc_OverflowError, "%s is out of range", what);
        return -1;
    }
    *out = overflow > 0 ? INT64_MAX : overflow < 0 ? INT64_MIN : (int64_t)v;
    return 0;
}

static int optional_day(PyObject *value, const char *what, int *has, int64_t *out)
{
    *has = value != Py_None;
    *out = 0;
    return *has ? int64_arg(value, what, 1, out) : 0;
}

/* The COSE algorithm of a key row or a call: only the integers -7 and -8. */
static int cose_alg_arg(PyObject *value, int *out)
{
    int overflow = 0;
    long alg = 0;
    if (PyLong_Check(value) && !PyBool_Check(value)) {
        alg = PyLong_AsLongAndOverflow(value, &overflow);
        if (alg == -1 && PyErr_Occurred())
            return -1;
    }
    if (overflow != 0 || (alg != CITYID_ES256 && alg != CITYID_EDDSA)) {
        raise_status(CITYID_UNSUPPORTED_ALGORITHM, "only ES256 (-7) and EdDSA (-8) are supported");
        return -1;
    }
    *out = (int)alg;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Engine */

typedef struct status_list {
    PyObject *data; /* bytes, or NULL: no list for this key */
    unsigned bits;
    int has_expiry;
    int64_t expires_at;
} status_list;

/* What a result names for a key: its kid (str) and algorithm name (str). */
typedef struct key_label {
    PyObject *kid, *alg;
} key_label;

typedef struct {
    PyObject_HEAD
    cityid_engine *core;
    Py_ssize_t count;
    status_list *lists;
    key_label *labels;
    char reject_unknown; /* the status policy: StatusUnknown instead of UNKNOWN */
} EngineObject;

static void Engine_dealloc(EngineObject *self)
{
    for (Py_ssize_t i = 0; i < self->count; i++) {
        Py_CLEAR(self->lists[i].data);
        Py_CLEAR(self->labels[i].kid);
        Py_CLEAR(self->labels[i].alg);
    }
    PyMem_Free(self->lists);
    PyMem_Free(self->labels);
    cityid_engine_free(self->core);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int add_key(cityid_engine *core, PyObject *row, key_label *label)
{
    PyObject *items = PySequence_Fast(row, "a key row must be a tuple");
    if (items == NULL)
        return -1;
    int rc = -1;
    PyObject **f = PySequence_Fast_ITEMS(items);
    int alg = 0, has_from, has_until;
    int64_t valid_from, valid_until;
    cityid_key *key = NULL;
    if (PySequence_Fast_GET_SIZE(items) != 6) {
        PyErr_SetString(PyExc_ValueError,
                        "a key row is (alg, wire_kid, raw_public_key, valid_from, valid_until, kid)");
        goto done;
    }
    if (cose_alg_arg(f[0], &alg) != 0)
        goto done;
    if (!PyBytes_Check(f[1]) || PyBytes_GET_SIZE(f[1]) != CITYID_WIRE_KID_SIZE) {
        PyErr_SetString(PyExc_ValueError, "the wire kid must be 2 bytes");
        goto done;
    }
    if (!PyBytes_Check(f[2])) {
        PyErr_SetString(PyExc_TypeError, "the raw public key must be bytes");
        goto done;
    }
    if (!PyUnicode_Check(f[5])) {
        PyErr_SetString(PyExc_TypeError, "the kid must be a str");
        goto done;
    }
    if (optional_day(f[3], "valid_from", &has_from, &valid_from) != 0 ||
        optional_day(f[4], "valid_until", &has_until, &valid_until) != 0)
        goto done;
    cityid_status status = cityid_key_new(alg, (const uint8_t *)PyBytes_AS_STRING(f[2]),
                                          (size_t)PyBytes_GET_SIZE(f[2]), &key);
    if (status == CITYID_INVALID_KEY) {
        PyErr_Format(g.error_for[CITYID_INVALID_KEY], "not a valid %s public key",
                     alg == CITYID_ES256 ? "ES256" : "EdDSA");
        goto done;
    }
    if (status != CITYID_OK) {
        raise_status(status, NULL);
        goto done;
    }
    status = cityid_engine_add(core, key, (const uint8_t *)PyBytes_AS_STRING(f[1]), has_from,
                               valid_from, has_until, valid_until);
    if (status != CITYID_OK) {
        raise_status(status, NULL);
        goto done;
    }
    label->kid = Py_NewRef(f[5]);
    label->alg = Py_NewRef(alg == CITYID_ES256 ? g.es256 : g.eddsa);
    rc = 0;
done:
    Py_DECREF(items);
    return rc;
}

static int load_verified_class(void);

/* Built whole in __new__ (there is no __init__), so an Engine never changes its keys. */
static PyObject *Engine_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"keys", "reject_unknown", NULL};
    PyObject *keys;
    int reject_unknown = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p:Engine", keywords, &keys,
                                     &reject_unknown))
        return NULL;
    if (g.verified == NULL && load_verified_class() != 0)
        return NULL;
    PyObject *rows = PySequence_Fast(keys, "keys must be a sequence of key rows");
    if (rows == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    EngineObject *self = (EngineObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        goto fail;
    self->reject_unknown = (char)reject_unknown;
    self->core = cityid_engine_new((size_t)count);
    self->lists = PyMem_Calloc(count > 0 ? (size_t)count : 1, sizeof *self->lists);
    self->labels = PyMem_Calloc(count > 0 ? (size_t)count : 1, sizeof *self->labels);
    if (self->core == NULL || self->lists == NULL || self->labels == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    self->count = count;
    for (Py_ssize_t i = 0; i < count; i++)
        if (add_key(self->core, PySequence_Fast_GET_ITEM(rows, i), &self->labels[i]) != 0)
            goto fail;
    Py_DECREF(rows);
    return (PyObject *)self;
fail:
    Py_DECREF(rows);
    Py_XDECREF(self);
    return NULL;
}

static int key_index_arg(PyObject *value, Py_ssize_t *out)
{
    Py_ssize_t index = PyNumber_AsSsize_t(value, PyExc_IndexError);
    if (index == -1 && PyErr_Occurred())
        return -1;
    *out = index;
    return 0;
}

/* Step 8's lookup: -1 when no current list covers the entry. Needs the GIL. */
static int lookup_status(EngineObject *self, Py_ssize_t key_index, uint64_t status_index,
                         int64_t now)
{
    if (key_index < 0 || key_index >= self->count)
        return -1;
    const status_list *list = &self->lists[key_index];
    if (list->data == NULL || (list->has_expiry && now > list->expires_at))
        return -1;
    return cityid_status_at((const uint8_t *)PyBytes_AS_STRING(list->data),
                            (size_t)PyBytes_GET_SIZE(list->data), list->bits, status_index);
}

static PyObject *Engine_set_status_list(EngineObject *self, PyObject *args)
{
    PyObject *index_arg, *data, *expires_arg;
    int bits;
    Py_ssize_t key_index;
    int64_t expires_at = 0;
    if (!PyArg_ParseTuple(args, "OOiO:set_status_list", &index_arg, &data, &bits, &expires_arg))
        return NULL;
    if (key_index_arg(index_arg, &key_index) != 0)
        return NULL;
    if (key_index < 0 || key_index >= self->count) {
        PyErr_SetString(PyExc_IndexError, "no key has that index");
        return NULL;
    }
    status_list *list = &self->lists[key_index];
    if (data == Py_None) {
        Py_CLEAR(list->data);
        Py_RETURN_NONE;
    }
    if (bits != 1 && bits != 2 && bits != 4 && bits != 8) {
        PyErr_SetString(PyExc_ValueError, "bits must be 1, 2, 4 or 8");
        return NULL;
    }
    if (expires_arg != Py_None && int64_arg(expires_arg, "expires_at", 0, &expires_at) != 0)
        return NULL;
    PyObject *copy = PyBytes_FromObject(data); /* a new reference; bytes stay as they are */
    if (copy == NULL)
        return NULL;
    PyObject *old = list->data;
    list->data = copy;
    list->bits = (unsigned)bits;
    list->has_expiry = expires_arg != Py_None;
    list->expires_at = expires_at;
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------ */
/* The clock */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* int(micros / 10**6) as Python computes a timestamp: the quotient correctly rounded to
 * a float, then truncated. Up to 2**53 both operands are exact doubles and one IEEE
 * division rounds as Python's int / int does; beyond (before 1685 or after 2255) this
 * asks Python. */
static int seconds_of(int64_t micros, int64_t *out)
{
    const int64_t exact = INT64_C(1) << 53;
    if (micros >= -exact && micros <= exact) {
        *out = (int64_t)((double)micros / MICROS);
        return 0;
    }
    PyObject *value = PyLong_FromLongLong(micros);
    if (value == NULL)
        return -1;
    PyObject *quotient = PyNumber_TrueDivide(value, g.one_million);
    Py_DECREF(value);
    if (quotient == NULL)
        return -1;
    double seconds = PyFloat_AsDouble(quotient);
    Py_DECREF(quotient);
    if (seconds == -1.0 && PyErr_Occurred())
        return -1;
    *out = (int64_t)seconds;
    return 0;
}

/* The local calendar day of the clock, kept with the span of seconds it holds, so that
 * most verifications read the clock (clock_gettime: no system call) and compare. The
 * span is recomputed (localtime_r, which reads no file once the zone is loaded) when
 * the clock leaves it or the zone changes (time.tzset(): tzname and timezone change).
 * Only read and written while holding the GIL. */
static struct {
    int valid;
    int64_t from, until; /* [from, until): seconds of the clock that have this day */
    int64_t day;
    long zone;
    int daylight;
    const char *names[2];
} local_day;

static int same_zone(void)
{
    return local_day.zone == timezone && local_day.daylight == daylight &&
           local_day.names[0] == tzname[0] && local_day.names[1] == tzname[1];
}

static int same_civil_day(const struct tm *a, const struct tm *b)
{
    return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon && a->tm_mday == b->tm_mday;
}

/* The machine's local calendar date at `seconds` (since 1970), as a day number. */
static int local_day_of(int64_t seconds, int64_t *day)
{
    if (local_day.valid && seconds >= local_day.from && seconds < local_day.until && same_zone()) {
        *day = local_day.day;
        return 0;
    }
    struct tm now, last;
    time_t t = (time_t)seconds;
    if (localtime_r(&t, &now) == NULL) {
        PyErr_SetString(PyExc_OverflowError, "the clock is outside the local calendar");
        return -1;
    }
    /* The day ends at the next local midnight: after the seconds left on the wall clock,
     * unless the offset changes first (a shorter day: the last of those seconds already
     * reads the next day); then this span stops at the next minute, and the next one
     * is measured after the change. A longer day just ends the span early. */
    int64_t until = seconds + DAY_SECONDS - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec);
    time_t end = (time_t)(until - 1);
    if (until <= seconds || localtime_r(&end, &last) == NULL || !same_civil_day(&now, &last))
        until = (floor_div(seconds, 60) + 1) * 60;
    local_day.day = cityid_days_from_civil((int64_t)now.tm_year + 1900, now.tm_mon + 1, now.tm_mday);
    local_day.from = seconds;
    local_day.until = until;
    local_day.zone = timezone;
    local_day.daylight = daylight;
    local_day.names[0] = tzname[0];
    local_day.names[1] = tzname[1];
    local_day.valid = 1;
    *day = local_day.day;
    return 0;
}

/* verifier._local_instant(now): a naive datetime or a date in local time, in seconds. */
static int local_instant(PyObject *now, int64_t *moment)
{
    PyObject *seconds = PyObject_CallOneArg(g.local_instant, now);
    if (seconds == NULL)
        return -1;
    int rc = int64_arg(seconds, "the local instant", 0, moment);
    Py_DECREF(seconds);
    return rc;
}

/* The verification day (days since 1970) and instant (seconds since 1970) of `now`, as
 * verifier._clock computes them: for None the clock, with the machine's local calendar
 * date; a date is that day, at its start in local time; a datetime is judged by the
 * calendar date it is written in, at the instant it denotes (naive: local time). */
static int clock_arg(PyObject *now, int64_t *today, int64_t *moment)
{
    if (now == Py_None) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        *moment = (int64_t)ts.tv_sec;
        return local_day_of(*moment, today);
    }
    if (!PyDate_Check(now)) {
        PyErr_SetString(PyExc_TypeError, "now must be a datetime, a date or None");
        return -1;
    }
    int64_t days = cityid_days_from_civil(PyDateTime_GET_YEAR(now), PyDateTime_GET_MONTH(now),
                                          PyDateTime_GET_DAY(now));
    *today = days;
    if (!PyDateTime_Check(now) || PyDateTime_DATE_GET_TZINFO(now) == Py_None)
        return local_instant(now, moment);
    int64_t local = days * DAY_SECONDS + PyDateTime_DATE_GET_HOUR(now) * 3600 +
                    PyDateTime_DATE_GET_MINUTE(now) * 60 + PyDateTime_DATE_GET_SECOND(now);
    int64_t micros = local * MICROS + PyDateTime_DATE_GET_MICROSECOND(now);
    PyObject *zone = PyDateTime_DATE_GET_TZINFO(now);
    if (zone != PyDateTime_TimeZone_UTC) {
        PyObject *offset = PyObject_CallMethodNoArgs(now, g.utcoffset);
        if (offset == NULL)
            return -1;
        if (!PyDelta_Check(offset)) { /* None, as datetime.timestamp() refuses it */
            Py_DECREF(offset);
            PyErr_SetString(PyExc_TypeError,
                            "can't subtract offset-naive and offset-aware datetimes");
            return -1;
        }
        micros -= ((int64_t)PyDateTime_DELTA_GET_DAYS(offset) * DAY_SECONDS +
                   PyDateTime_DELTA_GET_SECONDS(offset)) * MICROS +
                  PyDateTime_DELTA_GET_MICROSECONDS(offset);
        Py_DECREF(offset);
    }
    return seconds_of(micros, moment);
}

/* The arguments of a method called as name(x, now): their number, then the clock. */
static int now_arg(PyObject *const *args, Py_ssize_t nargs, const char *usage, int64_t *today,
                   int64_t *moment)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s takes 2 arguments", usage);
        return -1;
    }
    return clock_arg(args[1], today, moment);
}

/* ------------------------------------------------------------------------------------ */
/* Results */

static PyObject *text_object(cityid_bytes text, int ascii)
{
    if (!ascii)
        return PyUnicode_DecodeUTF8((const char *)text.ptr, (Py_ssize_t)text.len, "strict");
    PyObject *s = PyUnicode_New((Py_ssize_t)text.len, 127);
    if (s != NULL)
        memcpy(PyUnicode_1BYTE_DATA(s), text.ptr, text.len);
    return s;
}

/* 1 if in NFC, 0 if not, -1 on error. */
static int is_nfc(PyObject *text)
{
    PyObject *args[] = {g.nfc, text};
    PyObject *result = PyObject_Vectorcall(g.is_normalized, args, 2, NULL);
    if (result == NULL)
        return -1;
    int yes = PyObject_IsTrue(result);
    Py_DECREF(result);
    return yes;
}

static PyObject *date_object(int32_t days)
{
    int year, month, day;
    cityid_civil_from_days(days, &year, &month, &day);
    return PyDate_FromDate(year, month, day);
}

static PyObject *optional_bytes(cityid_bytes value)
{
    if (value.ptr == NULL)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)value.ptr, (Py_ssize_t)value.len);
}

/* An instance of a dataclass built as the Python twin builds it: object.__new__, then
 * the fields in order, without __init__. Steals the references in values. */
static PyObject *instance(PyTypeObject *type, PyObject *const *names, PyObject **values, int n)
{
    PyObject *object = NULL;
    for (int i = 0; i < n; i++)
        if (values[i] == NULL)
            goto done;
    object = PyBaseObject_Type.tp_new(type, g.empty_tuple, NULL);
    if (object == NULL)
        goto done;
    for (int i = 0; i < n; i++) {
        if (PyObject_GenericSetAttr(object, names[i], values[i]) != 0) {
            Py_CLEAR(object);
            goto done;
        }
    }
done:
    for (int i = 0; i < n; i++)
        Py_XDECREF(values[i]);
    return object;
}

static PyObject *credential_object(const cityid_claims *c, PyObject *name, PyObject *gender)
{
    PyObject *values[F_COUNT] = {
        [F_NAME] = Py_NewRef(name),
        [F_DATE_OF_BIRTH] = date_object(c->date_of_birth),
        [F_ISSUED] = date_object(c->issued),
        [F_EXPIRES] = date_object(c->expires),
        [F_STATUS_INDEX] = PyLong_FromUnsignedLong(c->status_index),
        [F_GENDER] = Py_NewRef(gender),
        [F_CARD_KEY] = optional_bytes(c->card_key),
        [F_TAG_UID] = optional_bytes(c->tag_uid),
        [F_PSEUDONYM_KEY] = optional_bytes(c->pseudonym_key),
    };
    return instance(g.credential, g.field, values, F_COUNT);
}

static PyObject *verified_object(PyObject *credential, PyObject *kid, PyObject *alg,
                                 PyObject *status)
{
    PyObject *values[R_COUNT] = {Py_NewRef(credential), Py_NewRef(kid), Py_NewRef(alg),
                                 Py_NewRef(status)};
    return instance(g.verified, g.result_field, values, R_COUNT);
}

/* A refusal: the CredentialError class and message, for the caller to raise or to make
 * an instance of; statuses that are not a credential's outcome raise here. Returns NULL. */
static PyObject *refuse(cityid_status status, const char *reason, PyObject **error,
                        const char **why)
{
    if (status == CITYID_NO_MEMORY || status == CITYID_CRYPTO_ERROR || g.error_for[status] == NULL)
        return raise_status(status, reason);
    *error = g.error_for[status];
    *why = reason ? reason : "the credential is not valid";
    return NULL;
}

/* Step 8 under the policy: a borrowed CredentialStatus, or NULL with *error and *why. */
static PyObject *status_outcome(EngineObject *self, int value, PyObject **error, const char **why)
{
    if (value == 0)
        return g.status_valid;
    if (value == -1) {
        if (!self->reject_unknown)
            return g.status_unknown_value;
        *error = g.status_unknown;
        *why = "no current status list covers the credential";
    } else if (value == 2) {
        *error = g.suspended;
        *why = "the issuer's status list marks the credential as suspended";
    } else {
        *error = g.revoked;
        *why = "the issuer's status list marks the credential as revoked";
    }
    return NULL;
}

/* The final outcome of a credential the core has checked, holding the GIL: a new
 * VerifiedCredential; or NULL with *error (a CredentialError class) and *why set; or
 * NULL with a Python exception set and *error NULL. */
static PyObject *finish(EngineObject *self, const cityid_outcome *o, int64_t moment,
                        PyObject **error, const char **why)
{
    *error = NULL;
    if (o->status != CITYID_OK)
        return refuse(o->status, o->reason, error, why);
    const cityid_claims *c = &o->verified.claims;
    PyObject *name = NULL, *gender = NULL, *credential = NULL, *result = NULL;
    name = text_object(c->name, c->name_ascii);
    gender = c->gender.ptr ? text_object(c->gender, c->gender_ascii) : Py_NewRef(Py_None);
    if (name == NULL || gender == NULL)
        goto done;
    int nfc = c->name_ascii ? 1 : is_nfc(name);
    if (nfc == 1 && gender != Py_None && !c->gender_ascii)
        nfc = is_nfc(gender);
    if (nfc < 0)
        goto done;
    if (nfc == 0) {
        refuse(CITYID_INVALID_CLAIM, "a text claim is not in Unicode normalization form NFC",
               error, why);
        goto done;
    }
    if (o->dates != CITYID_OK) {
        refuse(o->dates, o->reason, error, why);
        goto done;
    }
    size_t key_index = o->verified.key_index;
    int value = lookup_status(self, (Py_ssize_t)key_index, c->status_index, moment);
    PyObject *status = status_outcome(self, value, error, why);
    if (status == NULL)
        goto done;
    credential = credential_object(c, name, gender);
    if (credential != NULL) {
        const key_label *label = &self->labels[key_index];
        result = verified_object(credential, label->kid, label->alg, status);
    }
done:
    Py_XDECREF(credential);
    Py_XDECREF(name);
    Py_XDECREF(gender);
    return result;
}

/* The credential as bytes (a new reference): bytes as they are, bytearray and
 * memoryview copied (bytes cannot change while the GIL is released). */
static PyObject *blob_arg(PyObject *blob)
{
    if (PyBytes_Check(blob))
        return Py_NewRef(blob);
    if (PyByteArray_Check(blob) || PyMemoryView_Check(blob))
        return PyBytes_FromObject(blob);
    PyErr_SetString(PyExc_TypeError, "the credential must be bytes");
    return NULL;
}

static cityid_bytes bytes_view(PyObject *blob)
{
    cityid_bytes view = {(const uint8_t *)PyBytes_AS_STRING(blob), (size_t)PyBytes_GET_SIZE(blob)};
    return view;
}

static PyObject *Engine_verify(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t today, moment;
    cityid_outcome outcome;
    if (now_arg(args, nargs, "verify(blob, now)", &today, &moment) != 0)
        return NULL;
    PyObject *blob = blob_arg(args[0]);
    if (blob == NULL)
        return NULL;
    cityid_bytes view = bytes_view(blob);
    Py_BEGIN_ALLOW_THREADS
    cityid_verify_batch(self->core, &view, 1, today, &outcome);
    Py_END_ALLOW_THREADS
    PyObject *error = NULL;
    const char *why = NULL;
    PyObject *result = finish(self, &outcome, moment, &error, &why);
    if (result == NULL && error != NULL)
        PyErr_SetString(error, why);
    Py_DECREF(blob);
    return result;
}

static PyObject *Engine_verify_many(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t today, moment;
    if (now_arg(args, nargs, "verify_many(blobs, now)", &today, &moment) != 0)
        return NULL;
    /* A tuple of its own: a list could change while the GIL is released. */
    PyObject *items = PySequence_Tuple(args[0]);
    if (items == NULL)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    PyObject *results = PyList_New(count);
    PyObject *held[BATCH] = {NULL};
    cityid_bytes views[BATCH];
    cityid_outcome *outcomes = PyMem_Malloc(BATCH * sizeof *outcomes);
    if (results == NULL || outcomes == NULL) {
        if (outcomes == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t start = 0; start < count; start += BATCH) {
        size_t n = (size_t)(count - start < BATCH ? count - start : BATCH);
        for (size_t i = 0; i < n; i++) {
            if ((held[i] = blob_arg(PyTuple_GET_ITEM(items, start + (Py_ssize_t)i))) == NULL)
                goto fail;
            views[i] = bytes_view(held[i]);
        }
        Py_BEGIN_ALLOW_THREADS
        cityid_verify_batch(self->core, views, n, today, outcomes);
        Py_END_ALLOW_THREADS
        for (size_t i = 0; i < n; i++) {
            PyObject *error = NULL;
            const char *why = NULL;
            PyObject *result = finish(self, &outcomes[i], moment, &error, &why);
            if (result == NULL && error != NULL) {
                PyObject *message = PyUnicode_FromString(why);
                if (message != NULL) {
                    result = PyObject_CallOneArg(error, message);
                    Py_DECREF(message);
                }
            }
            if (result == NULL)
                goto fail;
            PyList_SET_ITEM(results, start + (Py_ssize_t)i, result);
        }
        for (size_t i = 0; i < n; i++)
            Py_CLEAR(held[i]);
    }
    PyMem_Free(outcomes);
    Py_DECREF(items);
    return results;
fail:
    for (size_t i = 0; i < BATCH; i++)
        Py_XDECREF(held[i]);
    PyMem_Free(outcomes);
    Py_XDECREF(results);
    Py_DECREF(items);
    return NULL;
}

/* A cache entry's status index: an index past 2**64 - 1 is past every list. */
static int status_index_arg(PyObject *value, uint64_t *out)
{
    int overflow = 0;
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "status_index must be an int");
        return -1;
    }
    long long index = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (index == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (overflow == 0 && index < 0)) {
        PyErr_SetString(PyExc_ValueError, "status_index must not be negative");
        return -1;
    }
    *out = overflow > 0 ? UINT64_MAX : (uint64_t)index;
    return 0;
}

static PyObject *Engine_recheck(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t today, moment, issued, expires;
    Py_ssize_t key_index;
    uint64_t status_index;
    if (now_arg(args, nargs, "recheck(entry, now)", &today, &moment) != 0)
        return NULL;
    PyObject *entry = args[0];
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "a cache entry is (result, key_index, issued, expires, status_index)");
        return NULL;
    }
    PyObject *result = PyTuple_GET_ITEM(entry, 0);
    if (key_index_arg(PyTuple_GET_ITEM(entry, 1), &key_index) != 0 ||
        int64_arg(PyTuple_GET_ITEM(entry, 2), "issued", 1, &issued) != 0 ||
        int64_arg(PyTuple_GET_ITEM(entry, 3), "expires", 1, &expires) != 0 ||
        status_index_arg(PyTuple_GET_ITEM(entry, 4), &status_index) != 0)
        return NULL;
    const char *reason = NULL;
    cityid_status validity = cityid_check_validity(issued, expires, today, &reason);
    if (validity != CITYID_OK)
        return raise_status(validity, reason);
    PyObject *error = NULL;
    const char *why = NULL;
    PyObject *status =
        status_outcome(self, lookup_status(self, key_index, status_index, moment), &error, &why);
    if (status == NULL) {
        PyErr_SetString(error, why);
        return NULL;
    }
    PyObject *values[R_COUNT] = {NULL};
    for (int i = 0; i < R_COUNT; i++) {
        if ((values[i] = PyObject_GetAttr(result, g.result_field[i])) == NULL) {
            for (int j = 0; j < i; j++)
                Py_DECREF(values[j]);
            return NULL;
        }
    }
    PyObject *answer;
    if (values[R_STATUS] == status)
        answer = Py_NewRef(result);
    else
        answer = verified_object(values[R_CREDENTIAL], values[R_KID], values[R_ALG], status);
    for (int i = 0; i < R_COUNT; i++)
        Py_DECREF(values[i]);
    return answer;
}

static PyMethodDef Engine_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))Engine_verify, METH_FASTCALL,
     "verify(blob, now) -> VerifiedCredential\n\n"
     "Steps 1 to 8 of the verification at `now` (a datetime, a date or None: the clock);\n"
     "raises the CredentialError subclass the pure-Python engine raises for the same input."},
    {"verify_many", (PyCFunction)(void (*)(void))Engine_verify_many, METH_FASTCALL,
     "verify_many(blobs, now) -> list of VerifiedCredential or CredentialError\n\n"
     "verify for each blob, in order, at one `now`; the GIL is released per batch."},
    {"recheck", (PyCFunction)(void (*)(void))Engine_recheck, METH_FASTCALL,
     "recheck(entry, now) -> VerifiedCredential\n\n"
     "Steps 7 and 8 again for a cached (result, key_index, issued, expires, status_index):\n"
     "the cached result, or a new one when the status changed."},
    {"set_status_list", (PyCFunction)Engine_set_status_list, METH_VARARGS,
     "set_status_list(key_index, data, bits, expires_at) -> None\n\n"
     "Use a decompressed status list (None: none) for the credentials of one key."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Engine_members[] = {
    {"reject_unknown", T_BOOL, offsetof(EngineObject, reject_unknown), 0,
     "The status policy: raise StatusUnknown when no current list covers a credential."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cityid_card._native.Engine",
    .tp_basicsize = sizeof(EngineObject),
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Engine(keys, reject_unknown=False): the C verifier engine for one list of key rows.",
    .tp_methods = Engine_methods,
    .tp_members = Engine_members,
    .tp_new = Engine_new,
};

/* ------------------------------------------------------------------------------------ */
/* The signature check alone */

static void key_capsule_free(PyObject *capsule)
{
    cityid_key_free(PyCapsule_GetPointer(capsule, "cityid_card._native.key"));
}

/* A loaded key for (alg, raw), from a small cache so repeated checks under one key
 * measure the check alone, as the engine runs it. New reference. */
static PyObject *cached_key(int alg, PyObject *raw)
{
    Py_ssize_t raw_len = PyBytes_GET_SIZE(raw);
    PyObject *cache_key = PyBytes_FromStringAndSize(NULL, raw_len + 1);
    if (cache_key == NULL)
        return NULL;
    PyBytes_AS_STRING(cache_key)[0] = (char)(alg == CITYID_ES256 ? 'E' : 'O');
    memcpy(PyBytes_AS_STRING(cache_key) + 1, PyBytes_AS_STRING(raw), (size_t)raw_len);
    PyObject *capsule = PyDict_GetItemWithError(g.key_cache, cache_key);
    if (capsule != NULL || PyErr_Occurred()) {
        Py_DECREF(cache_key);
        return Py_XNewRef(capsule);
    }
    cityid_key *key = NULL;
    cityid_status status = cityid_key_new(alg, (const uint8_t *)PyBytes_AS_STRING(raw),
                                          (size_t)PyBytes_GET_SIZE(raw), &key);
    if (status != CITYID_OK) {
        Py_DECREF(cache_key);
        if (status == CITYID_INVALID_KEY)
            return raise_status(status, "not a valid public key for the algorithm");
        return raise_status(status, NULL);
    }
    capsule = PyCapsule_New(key, "cityid_card._native.key", key_capsule_free);
    if (capsule == NULL) {
        cityid_key_free(key);
        Py_DECREF(cache_key);
        return NULL;
    }
    if (PyDict_GET_SIZE(g.key_cache) >= KEY_CACHE_SIZE)
        PyDict_Clear(g.key_cache);
    if (PyDict_SetItem(g.key_cache, cache_key, capsule) != 0)
        Py_CLEAR(capsule);
    Py_DECREF(cache_key);
    return capsule;
}

static PyObject *verify_signature(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int alg;
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "verify_signature(cose_alg, raw_key, message, signature) takes 4 arguments");
        return NULL;
    }
    if (cose_alg_arg(args[0], &alg) != 0)
        return NULL;
    for (int i = 1; i < 4; i++) {
        if (!PyBytes_Check(args[i])) {
            PyErr_SetString(PyExc_TypeError, "key, message and signature must be bytes");
            return NULL;
        }
    }
    PyObject *capsule = cached_key(alg, args[1]);
    if (capsule == NULL)
        return NULL;
    cityid_key *key = PyCapsule_GetPointer(capsule, "cityid_card._native.key");
    cityid_status status;
    Py_BEGIN_ALLOW_THREADS
    status = cityid_key_verify(key, (const uint8_t *)PyBytes_AS_STRING(args[2]),
                               (size_t)PyBytes_GET_SIZE(args[2]),
                               (const uint8_t *)PyBytes_AS_STRING(args[3]),
                               (size_t)PyBytes_GET_SIZE(args[3]));
    Py_END_ALLOW_THREADS
    Py_DECREF(capsule);
    if (status != CITYID_OK)
        return raise_status(status, "the signature does not verify under the key");
    Py_RETURN_NONE;
}

static PyObject *signature_backend(PyObject *module, PyObject *arg)
{
    int alg;
    (void)module;
    if (cose_alg_arg(arg, &alg) != 0)
        return NULL;
    return PyUnicode_FromFormat("%s %s", cityid_signature_library(alg), cityid_signature_api(alg));
}

static PyObject *local_day_py(PyObject *module, PyObject *arg)
{
    int64_t seconds, day;
    (void)module;
    if (int64_arg(arg, "seconds", 0, &seconds) != 0 || local_day_of(seconds, &day) != 0)
        return NULL;
    return PyLong_FromLongLong(day);
}

/* ------------------------------------------------------------------------------------ */
/* Point arithmetic (ec.c), for cityid_card.eac.curve */

/* The curve named by a str argument (Curve.name), or -1 with ValueError. */
static int curve_arg(PyObject *name)
{
    static const struct {
        const char *name;
        int curve;
    } curves[] = {
        {"secp256r1", CITYID_CURVE_P256},
        {"brainpoolP256r1", CITYID_CURVE_BRAINPOOL_P256R1},
    };
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "the curve name must be a str");
        return -1;
    }
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (PyUnicode_CompareWithASCIIString(name, curves[i].name) == 0)
            return curves[i].curve;
    PyErr_SetString(PyExc_ValueError, "no arithmetic for this curve");
    return -1;
}

/* bytes or (when optional) None; 0 on success. */
static int octets_arg(PyObject *value, int optional, const uint8_t **data, size_t *len)
{
    if (optional && value == Py_None) {
        *data = NULL;
        *len = 0;
        return 0;
    }
    if (!PyBytes_Check(value)) {
        PyErr_SetString(PyExc_TypeError,
                        optional ? "a point must be bytes or None" : "points and scalars must be bytes");
        return -1;
    }
    *data = (const uint8_t *)PyBytes_AS_STRING(value);
    *len = (size_t)PyBytes_GET_SIZE(value);
    return 0;
}

/* The answer of ec_mul_add and ec_add: the point as bytes, None for the identity. */
static PyObject *ec_result(cityid_status status, const uint8_t *out, int identity)
{
    switch (status) {
    case CITYID_OK:
        if (identity)
            Py_RETURN_NONE;
        return PyBytes_FromStringAndSize((const char *)out, CITYID_EC_POINT_SIZE);
    case CITYID_INVALID_KEY:
        PyErr_SetString(PyExc_ValueError, "not an uncompressed point of the curve");
        return NULL;
    case CITYID_MALFORMED:
        PyErr_SetString(PyExc_ValueError, "the scalar must be 32 bytes");
        return NULL;
    default:
        return raise_status(status, NULL);
    }
}

static PyObject *ec_mul_add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    const uint8_t *point, *scalar, *addend;
    size_t point_len, scalar_len, addend_len;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "ec_mul_add(curve, point, scalar, addend) takes 4 arguments");
        return NULL;
    }
    int curve = curve_arg(args[0]);
    if (curve < 0 || octets_arg(args[1], 1, &point, &point_len) != 0 ||
        octets_arg(args[2], 0, &scalar, &scalar_len) != 0 ||
        octets_arg(args[3], 1, &addend, &addend_len) != 0)
        return NULL;
    uint8_t out[CITYID_EC_POINT_SIZE];
    int identity = 0;
    cityid_status status;
    /* The arguments are bytes (immutable), kept alive by the caller. */
    Py_BEGIN_ALLOW_THREADS
    status = cityid_ec_mul_add(curve, point, point_len, scalar, scalar_len, addend, addend_len,
                               out, &identity);
    Py_END_ALLOW_THREADS
    PyObject *result = ec_result(status, out, identity);
    OPENSSL_cleanse(out, sizeof out);
    return result;
}

static PyObject *ec_add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    const uint8_t *left, *right;
    size_t left_len, right_len;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "ec_add(curve, left, right) takes 3 arguments");
        return NULL;
    }
    int curve = curve_arg(args[0]);
    if (curve < 0 || octets_arg(args[1], 0, &left, &left_len) != 0 ||
        octets_arg(args[2], 0, &right, &right_len) != 0)
        return NULL;
    uint8_t out[CITYID_EC_POINT_SIZE];
    int identity = 0;
    cityid_status status = cityid_ec_add(curve, left, left_len, right, right_len, out, &identity);
    return ec_result(status, out, identity);
}

static PyMethodDef module_methods[] = {
    {"_local_day", local_day_py, METH_O,
     "_local_day(seconds) -> int\n\n"
     "The local calendar day (days since 1970) at a clock reading, as verify(blob, None)\n"
     "takes it, through the same cache (for the tests)."},
    {"verify_signature", (PyCFunction)(void (*)(void))verify_signature, METH_FASTCALL,
     "verify_signature(cose_alg, raw_key, message, signature) -> None\n\n"
     "The signature check alone, as the engine runs it; raises BadSignature."},
    {"signature_backend", signature_backend, METH_O,
     "signature_backend(cose_alg) -> str: the library and call that check signatures."},
    {"ec_mul_add", (PyCFunction)(void (*)(void))ec_mul_add, METH_FASTCALL,
     "ec_mul_add(curve, point, scalar, addend) -> bytes | None\n\n"
     "scalar * point + addend on the named curve (secp256r1 or brainpoolP256r1) through\n"
     "OpenSSL's EC_POINT: points are 65-byte uncompressed encodings (point None: the\n"
     "standard generator; addend None: no sum), the scalar 32 bytes big-endian (it may be\n"
     "secret). None for the identity; ValueError for a point off the curve or a bad length."},
    {"ec_add", (PyCFunction)(void (*)(void))ec_add, METH_FASTCALL,
     "ec_add(curve, left, right) -> bytes | None\n\n"
     "left + right on the named curve, with ec_mul_add's encodings and errors."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cityid_card._native._native",
    .m_doc = "The C verifier engine of cityid-card (see cityid_card/verifier.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

static PyObject *attribute(const char *module_name, const char *name)
{
    PyObject *module = PyImport_ImportModule(module_name);
    if (module == NULL)
        return NULL;
    PyObject *value = PyObject_GetAttrString(module, name);
    Py_DECREF(module);
    return value;
}

static int load_globals(void)
{
    static const struct {
        cityid_status status;
        const char *name;
    } errors[] = {
        {CITYID_MALFORMED, "MalformedCredential"},
        {CITYID_UNSUPPORTED_ALGORITHM, "UnsupportedAlgorithm"},
        {CITYID_UNKNOWN_ISSUER, "UnknownIssuer"},
        {CITYID_BAD_SIGNATURE, "BadSignature"},
        {CITYID_UNSUPPORTED_VERSION, "UnsupportedVersion"},
        {CITYID_UNKNOWN_CLAIM, "UnknownClaim"},
        {CITYID_INVALID_CLAIM, "InvalidClaim"},
        {CITYID_KEY_NOT_VALID, "KeyNotValid"},
        {CITYID_NOT_YET_VALID, "NotYetValid"},
        {CITYID_EXPIRED, "Expired"},
        {CITYID_INVALID_KEY, "InvalidKey"},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if ((g.error_for[errors[i].status] = attribute("cityid_card.errors", errors[i].name)) == NULL)
            return -1;
    if ((g.revoked = attribute("cityid_card.errors", "Revoked")) == NULL ||
        (g.suspended = attribute("cityid_card.errors", "Suspended")) == NULL ||
        (g.status_unknown = attribute("cityid_card.errors", "StatusUnknown")) == NULL)
        return -1;
    PyObject *statuses = attribute("cityid_card.status", "CredentialStatus");
    if (statuses == NULL)
        return -1;
    g.status_valid = PyObject_GetAttrString(statuses, "VALID");
    g.status_unknown_value = PyObject_GetAttrString(statuses, "UNKNOWN");
    Py_DECREF(statuses);
    if (g.status_valid == NULL || g.status_unknown_value == NULL)
        return -1;
    PyObject *credential = attribute("cityid_card.credential", "Credential");
    if (credential == NULL)
        return -1;
    if (!PyType_Check(credential)) {
        Py_DECREF(credential);
        PyErr_SetString(PyExc_ImportError, "cityid_card.credential.Credential is not a class");
        return -1;
    }
    g.credential = (PyTypeObject *)credential;
    if ((g.is_normalized = attribute("unicodedata", "is_normalized")) == NULL ||
        (g.nfc = PyUnicode_InternFromString("NFC")) == NULL ||
        (g.empty_tuple = PyTuple_New(0)) == NULL || (g.key_cache = PyDict_New()) == NULL ||
        (g.utcoffset = PyUnicode_InternFromString("utcoffset")) == NULL ||
        (g.one_million = PyLong_FromLong(MICROS)) == NULL ||
        (g.es256 = PyUnicode_InternFromString("ES256")) == NULL ||
        (g.eddsa = PyUnicode_InternFromString("EdDSA")) == NULL)
        return -1;
    for (int i = 0; i < F_COUNT; i++)
        if ((g.field[i] = PyUnicode_InternFromString(FIELD_NAMES[i])) == NULL)
            return -1;
    for (int i = 0; i < R_COUNT; i++)
        if ((g.result_field[i] = PyUnicode_InternFromString(RESULT_NAMES[i])) == NULL)
            return -1;
    return 0;
}

static int load_verified_class(void)
{
    if (g.local_instant == NULL &&
        (g.local_instant = attribute("cityid_card.verifier", "_local_instant")) == NULL)
        return -1;
    PyObject *verified = attribute("cityid_card.verifier", "VerifiedCredential");
    if (verified == NULL)
        return -1;
    if (!PyType_Check(verified)) {
        Py_DECREF(verified);
        PyErr_SetString(PyExc_TypeError, "cityid_card.verifier.VerifiedCredential is not a class");
        return -1;
    }
    g.verified = (PyTypeObject *)verified;
    return 0;
}

PyMODINIT_FUNC PyInit__native(void)
{
    if (cityid_init() != 0) {
        PyErr_SetString(PyExc_ImportError, "libsodium could not be initialised");
        return NULL;
    }
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || load_globals() != 0 || PyType_Ready(&EngineType) != 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Engine", (PyObject *)&EngineType) != 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
