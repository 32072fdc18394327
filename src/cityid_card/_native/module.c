/*
 * cityid_card._native: the CPython binding of the C core (cityid.h).
 *
 * Engine.verify runs steps 1 to 5 (but NFC) in the core with the GIL released, then,
 * holding the GIL, the NFC check of non-ASCII texts (unicodedata.is_normalized, the
 * Python twin's own check), steps 6 to 8 and the result.
 *
 * Thread safety: the core engine is immutable after Engine() returns, and status lists
 * are only read and replaced while holding the GIL, so verify, status and
 * set_status_list may be called from any threads at once (on CPython with a GIL).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

#include "cityid.h"

#define KEY_CACHE_SIZE 256

enum { F_NAME, F_DATE_OF_BIRTH, F_ISSUED, F_EXPIRES, F_STATUS_INDEX, F_GENDER, F_CARD_KEY,
       F_TAG_UID, F_PSEUDONYM_KEY, F_COUNT };
/* In the order Credential.from_claims sets them. */
static const char *const FIELD_NAMES[F_COUNT] = {
    "name", "date_of_birth", "issued", "expires", "status_index",
    "gender", "card_key", "tag_uid", "pseudonym_key",
};

/* Looked up once when the module is imported (single-phase init: it is never unloaded). */
static struct {
    PyObject *error_for[CITYID_CRYPTO_ERROR + 1]; /* exception class per core status */
    PyTypeObject *credential;
    PyObject *is_normalized, *nfc, *empty_tuple;
    PyObject *field[F_COUNT];
    PyObject *key_cache; /* verify_signature's loaded keys */
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

typedef struct {
    PyObject_HEAD
    cityid_engine *core;
    Py_ssize_t count;
    status_list *lists;
} EngineObject;

static void Engine_dealloc(EngineObject *self)
{
    for (Py_ssize_t i = 0; i < self->count; i++)
        Py_CLEAR(self->lists[i].data);
    PyMem_Free(self->lists);
    cityid_engine_free(self->core);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int add_key(cityid_engine *core, PyObject *row)
{
    PyObject *items = PySequence_Fast(row, "a key row must be a tuple");
    if (items == NULL)
        return -1;
    int rc = -1;
    PyObject **f = PySequence_Fast_ITEMS(items);
    int alg = 0, has_from, has_until;
    int64_t valid_from, valid_until;
    cityid_key *key = NULL;
    if (PySequence_Fast_GET_SIZE(items) != 5) {
        PyErr_SetString(PyExc_ValueError,
                        "a key row is (alg, wire_kid, raw_public_key, valid_from, valid_until)");
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
    rc = 0;
done:
    Py_DECREF(items);
    return rc;
}

/* Built whole in __new__ (there is no __init__), so an Engine never changes its keys. */
static PyObject *Engine_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"keys", NULL};
    PyObject *keys;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Engine", keywords, &keys))
        return NULL;
    PyObject *rows = PySequence_Fast(keys, "keys must be a sequence of key rows");
    if (rows == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    EngineObject *self = (EngineObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        goto fail;
    self->core = cityid_engine_new((size_t)count);
    self->lists = PyMem_Calloc(count > 0 ? (size_t)count : 1, sizeof *self->lists);
    if (self->core == NULL || self->lists == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    self->count = count;
    for (Py_ssize_t i = 0; i < count; i++)
        if (add_key(self->core, PySequence_Fast_GET_ITEM(rows, i)) != 0)
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

static PyObject *Engine_status(EngineObject *self, PyObject *args)
{
    PyObject *index_arg, *status_arg, *now_arg;
    Py_ssize_t key_index;
    int64_t now;
    int overflow = 0;
    if (!PyArg_ParseTuple(args, "OO!O:status", &index_arg, &PyLong_Type, &status_arg, &now_arg))
        return NULL;
    if (key_index_arg(index_arg, &key_index) != 0 || int64_arg(now_arg, "now", 0, &now) != 0)
        return NULL;
    long long status_index = PyLong_AsLongLongAndOverflow(status_arg, &overflow);
    if (status_index == -1 && PyErr_Occurred())
        return NULL;
    if (overflow < 0 || (overflow == 0 && status_index < 0)) {
        PyErr_SetString(PyExc_ValueError, "status_index must not be negative");
        return NULL;
    }
    /* An index past 2**63 is past every list. */
    uint64_t index = overflow > 0 ? UINT64_MAX : (uint64_t)status_index;
    return PyLong_FromLong(lookup_status(self, key_index, index, now));
}

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

/* What Credential._unchecked builds: object.__new__ and object.__setattr__, no checks. */
static PyObject *credential_object(const cityid_claims *c, PyObject *name, PyObject *gender)
{
    PyObject *values[F_COUNT] = {NULL};
    PyObject *credential = NULL;
    values[F_NAME] = Py_NewRef(name);
    values[F_DATE_OF_BIRTH] = date_object(c->date_of_birth);
    values[F_ISSUED] = date_object(c->issued);
    values[F_EXPIRES] = date_object(c->expires);
    values[F_STATUS_INDEX] = PyLong_FromUnsignedLong(c->status_index);
    values[F_GENDER] = Py_NewRef(gender);
    values[F_CARD_KEY] = optional_bytes(c->card_key);
    values[F_TAG_UID] = optional_bytes(c->tag_uid);
    values[F_PSEUDONYM_KEY] = optional_bytes(c->pseudonym_key);
    for (int i = 0; i < F_COUNT; i++)
        if (values[i] == NULL)
            goto done;
    credential = PyBaseObject_Type.tp_new(g.credential, g.empty_tuple, NULL);
    if (credential == NULL)
        goto done;
    for (int i = 0; i < F_COUNT; i++) {
        if (PyObject_GenericSetAttr(credential, g.field[i], values[i]) != 0) {
            Py_CLEAR(credential);
            goto done;
        }
    }
done:
    for (int i = 0; i < F_COUNT; i++)
        Py_XDECREF(values[i]);
    return credential;
}

static PyObject *Engine_verify(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *blob, *name = NULL, *gender = NULL, *credential = NULL, *result = NULL;
    int64_t today, now;
    cityid_verified verified;
    cityid_status status;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "verify(blob, today, now) takes 3 arguments");
        return NULL;
    }
    if (int64_arg(args[1], "today", 1, &today) != 0 || int64_arg(args[2], "now", 0, &now) != 0)
        return NULL;
    /* bytes cannot change while the GIL is released; anything else is copied first. */
    blob = PyBytes_Check(args[0]) ? Py_NewRef(args[0]) : PyBytes_FromObject(args[0]);
    if (blob == NULL)
        return NULL;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(blob);
    size_t len = (size_t)PyBytes_GET_SIZE(blob);

    Py_BEGIN_ALLOW_THREADS
    status = cityid_verify(self->core, data, len, &verified);
    Py_END_ALLOW_THREADS
    if (status != CITYID_OK) {
        raise_status(status, verified.reason);
        goto done;
    }
    const cityid_claims *c = &verified.claims;
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
        raise_status(CITYID_INVALID_CLAIM, "a text claim is not in Unicode normalization form NFC");
        goto done;
    }
    const char *reason = NULL;
    status = cityid_check_dates(self->core, &verified, today, &reason);
    if (status != CITYID_OK) {
        raise_status(status, reason);
        goto done;
    }
    int value = lookup_status(self, (Py_ssize_t)verified.key_index, c->status_index, now);
    credential = credential_object(c, name, gender);
    if (credential == NULL)
        goto done;
    result = Py_BuildValue("(niO)", (Py_ssize_t)verified.key_index, value, credential);
done:
    Py_XDECREF(credential);
    Py_XDECREF(name);
    Py_XDECREF(gender);
    Py_DECREF(blob);
    return result;
}

static PyMethodDef Engine_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))Engine_verify, METH_FASTCALL,
     "verify(blob, today, now) -> (key_index, status_value, Credential)\n\n"
     "Steps 1 to 8 of the verification; raises the CredentialError subclass the\n"
     "pure-Python engine raises for the same input."},
    {"set_status_list", (PyCFunction)Engine_set_status_list, METH_VARARGS,
     "set_status_list(key_index, data, bits, expires_at) -> None\n\n"
     "Use a decompressed status list (None: none) for the credentials of one key."},
    {"status", (PyCFunction)Engine_status, METH_VARARGS,
     "status(key_index, status_index, now) -> int\n\n"
     "The entry of the key's current status list; -1 if unknown."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cityid_card._native.Engine",
    .tp_basicsize = sizeof(EngineObject),
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Engine(keys): the C verifier engine for one list of key rows.",
    .tp_methods = Engine_methods,
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

static PyMethodDef module_methods[] = {
    {"verify_signature", (PyCFunction)(void (*)(void))verify_signature, METH_FASTCALL,
     "verify_signature(cose_alg, raw_key, message, signature) -> None\n\n"
     "The signature check alone, as the engine runs it; raises BadSignature."},
    {"signature_backend", signature_backend, METH_O,
     "signature_backend(cose_alg) -> str: the library and call that check signatures."},
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
        (g.empty_tuple = PyTuple_New(0)) == NULL || (g.key_cache = PyDict_New()) == NULL)
        return -1;
    for (int i = 0; i < F_COUNT; i++)
        if ((g.field[i] = PyUnicode_InternFromString(FIELD_NAMES[i])) == NULL)
            return -1;
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
