/*
 * _arrow_stream.h: the C half of the Arrow PyCapsule stream export
 * (timelog/_arrow.pxi): the Arrow C data and C stream interface structs,
 * the stream of record batches (zero-copy ts chunks pinned by a shared
 * atomic keep count, moved-in payload columns) and its release callbacks,
 * which run on any thread and take the GIL only to drop the last pin.
 * Included only by the generated timelog/_core.c, hence static functions.
 */
#ifndef TIMELOG_ARROW_STREAM_H
#define TIMELOG_ARROW_STREAM_H
#include <Python.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* The Arrow C data interface and C stream interface ABI, written from
 * the public specification; guarded by the macros the spec prescribes,
 * so a header that already declares them wins. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};
#endif

/* ---- the pin shared by a stream and the ts buffers it exported */
typedef struct tlpy_keep {
    atomic_size_t refs;
    PyObject *obj;               /* a _Snapshot (strong reference) */
} tlpy_keep_t;

static int tlpy_finalizing(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

static void tlpy_keep_ref(tlpy_keep_t *k) {
    if (k != NULL) atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
}

/* Release decrement; the last holder's acquire fence orders every use
 * of the page memory by other holders before the pin goes. */
static void tlpy_keep_drop(tlpy_keep_t *k) {
    if (k == NULL) return;
    if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_release) != 1) return;
    atomic_thread_fence(memory_order_acquire);
    if (Py_IsInitialized() && !tlpy_finalizing()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_DECREF(k->obj);
        PyGILState_Release(g);
    }
    PyMem_RawFree(k);
}

/* ---- schemas: deep copies that own every byte (our release) */
static char *tlpy_strdup(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    char *d = (char *)PyMem_RawMalloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* Metadata is int32 count, then (int32 len, key, int32 len, value) pairs. */
static size_t tlpy_meta_len(const char *m) {
    int32_t n, l;
    size_t off = 4;
    if (m == NULL) return 0;
    memcpy(&n, m, 4);
    for (int32_t i = 0; i < n; i++) {
        memcpy(&l, m + off, 4); off += 4 + (size_t)l;
        memcpy(&l, m + off, 4); off += 4 + (size_t)l;
    }
    return off;
}

static void tlpy_schema_release(struct ArrowSchema *s) {
    for (int64_t i = 0; i < s->n_children; i++) {
        struct ArrowSchema *c = s->children[i];
        if (c != NULL && c->release != NULL) c->release(c);
        PyMem_RawFree(c);
    }
    PyMem_RawFree(s->children);
    if (s->dictionary != NULL) {
        if (s->dictionary->release != NULL) s->dictionary->release(s->dictionary);
        PyMem_RawFree(s->dictionary);
    }
    PyMem_RawFree((void *)s->format);
    PyMem_RawFree((void *)s->name);
    PyMem_RawFree((void *)s->metadata);
    s->release = NULL;
}

/* dst gets a copy of src named name (src's name when NULL). -1 on
 * out-of-memory, with dst released. */
static int tlpy_schema_copy(const struct ArrowSchema *src, const char *name,
                            struct ArrowSchema *dst) {
    memset(dst, 0, sizeof(*dst));
    dst->release = tlpy_schema_release;
    dst->flags = src->flags;
    dst->format = tlpy_strdup(src->format);
    dst->name = tlpy_strdup(name != NULL ? name : (src->name != NULL ? src->name : ""));
    if (dst->format == NULL || dst->name == NULL) goto fail;
    if (src->metadata != NULL) {
        size_t n = tlpy_meta_len(src->metadata);
        char *m = (char *)PyMem_RawMalloc(n);
        if (m == NULL) goto fail;
        memcpy(m, src->metadata, n);
        dst->metadata = m;
    }
    if (src->n_children > 0) {
        dst->children = (struct ArrowSchema **)PyMem_RawCalloc(
            (size_t)src->n_children, sizeof(struct ArrowSchema *));
        if (dst->children == NULL) goto fail;
        dst->n_children = src->n_children;
        for (int64_t i = 0; i < src->n_children; i++) {
            dst->children[i] = (struct ArrowSchema *)PyMem_RawMalloc(sizeof(struct ArrowSchema));
            if (dst->children[i] == NULL) goto fail;
            if (tlpy_schema_copy(src->children[i], NULL, dst->children[i]) != 0) goto fail;
        }
    }
    if (src->dictionary != NULL) {
        dst->dictionary = (struct ArrowSchema *)PyMem_RawMalloc(sizeof(struct ArrowSchema));
        if (dst->dictionary == NULL) goto fail;
        if (tlpy_schema_copy(src->dictionary, NULL, dst->dictionary) != 0) goto fail;
    }
    return 0;
fail:
    tlpy_schema_release(dst);
    return -1;
}

/* ---- arrays: a ts child and the struct batch around it */
typedef struct tlpy_ts_priv {
    const void *bufs[2];         /* validity (none), values */
    int64_t *own;                /* copied timestamps, or NULL for page memory */
    tlpy_keep_t *keep;           /* the pin of page memory, or NULL */
} tlpy_ts_priv_t;

static void tlpy_ts_release(struct ArrowArray *a) {
    tlpy_ts_priv_t *p = (tlpy_ts_priv_t *)a->private_data;
    PyMem_RawFree(p->own);
    tlpy_keep_drop(p->keep);
    PyMem_RawFree(p);
    a->release = NULL;
}

/* Children live in the batch's own block; each keeps its own release, so
 * a consumer may move one out (and mark ours released) as the spec allows. */
typedef struct tlpy_batch_priv {
    const void *bufs[1];
    struct ArrowArray **kids;
    struct ArrowArray store[];
} tlpy_batch_priv_t;

static void tlpy_batch_release(struct ArrowArray *a) {
    tlpy_batch_priv_t *p = (tlpy_batch_priv_t *)a->private_data;
    for (int64_t i = 0; i < a->n_children; i++) {
        struct ArrowArray *c = a->children[i];
        if (c->release != NULL) c->release(c);
    }
    PyMem_RawFree(p->kids);
    PyMem_RawFree(p);
    a->release = NULL;
}

/* ---- the stream */
typedef struct tlpy_chunk {
    int64_t n;
    const int64_t *ts;           /* page memory, or own */
    int64_t *own;                /* copied timestamps not yet handed out */
    int zero_copy;
    struct ArrowArray *vals;     /* n_vals payload columns, moved in; released = moved out */
} tlpy_chunk_t;

typedef struct tlpy_stream {
    char ts_format[16];
    int64_t n_vals;
    struct ArrowSchema *val_schemas;
    int64_t n_chunks, cap, next;
    tlpy_chunk_t *chunks;
    tlpy_keep_t *keep;
    char err[128];
} tlpy_stream_t;

static tlpy_stream_t *tlpy_stream_new(const char *ts_format) {
    tlpy_stream_t *s = (tlpy_stream_t *)PyMem_RawCalloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    strncpy(s->ts_format, ts_format, sizeof(s->ts_format) - 1);
    return s;
}

static void tlpy_stream_free(tlpy_stream_t *s) {
    if (s == NULL) return;
    for (int64_t i = 0; i < s->n_chunks; i++) {
        tlpy_chunk_t *c = &s->chunks[i];
        PyMem_RawFree(c->own);
        if (c->vals != NULL) {
            for (int64_t k = 0; k < s->n_vals; k++)
                if (c->vals[k].release != NULL) c->vals[k].release(&c->vals[k]);
            PyMem_RawFree(c->vals);
        }
    }
    PyMem_RawFree(s->chunks);
    if (s->val_schemas != NULL) {
        for (int64_t k = 0; k < s->n_vals; k++)
            if (s->val_schemas[k].release != NULL) s->val_schemas[k].release(&s->val_schemas[k]);
        PyMem_RawFree(s->val_schemas);
    }
    tlpy_keep_drop(s->keep);
    PyMem_RawFree(s);
}

/* Appends a chunk; takes own (the copied timestamps, or NULL for page
 * memory) even on failure. -1 on out-of-memory. */
static int tlpy_stream_add(tlpy_stream_t *s, int64_t n, const int64_t *ts, int64_t *own) {
    if (s->n_chunks == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 16;
        tlpy_chunk_t *c = (tlpy_chunk_t *)PyMem_RawRealloc(s->chunks, (size_t)cap * sizeof(*c));
        if (c == NULL) { PyMem_RawFree(own); return -1; }
        s->chunks = c;
        s->cap = cap;
    }
    tlpy_chunk_t *c = &s->chunks[s->n_chunks++];
    c->n = n;
    c->ts = ts;
    c->own = own;
    c->zero_copy = own == NULL;
    c->vals = NULL;
    return 0;
}

/* Drops the first k records (before any payload column is set). */
static void tlpy_stream_skip(tlpy_stream_t *s, int64_t k) {
    int64_t i = 0;
    while (i < s->n_chunks && k >= s->chunks[i].n) {
        k -= s->chunks[i].n;
        PyMem_RawFree(s->chunks[i].own);
        i++;
    }
    if (i > 0) memmove(s->chunks, s->chunks + i, (size_t)(s->n_chunks - i) * sizeof(tlpy_chunk_t));
    s->n_chunks -= i;
    if (s->n_chunks > 0 && k > 0) {
        s->chunks[0].ts += k;    /* own still points at the block to free */
        s->chunks[0].n -= k;
    }
}

static int64_t tlpy_stream_len(const tlpy_stream_t *s, int64_t i) { return s->chunks[i].n; }
static int64_t tlpy_stream_nchunks(const tlpy_stream_t *s) { return s->n_chunks; }
static const int64_t *tlpy_stream_ts(const tlpy_stream_t *s, int64_t i) { return s->chunks[i].ts; }

static int tlpy_stream_has_zero_copy(const tlpy_stream_t *s) {
    for (int64_t i = 0; i < s->n_chunks; i++)
        if (s->chunks[i].zero_copy) return 1;
    return 0;
}

/* Makes room for k payload columns in the schema and in every chunk. */
static int tlpy_stream_set_nvals(tlpy_stream_t *s, int64_t k) {
    if (k == 0) return 0;
    s->val_schemas = (struct ArrowSchema *)PyMem_RawCalloc((size_t)k, sizeof(struct ArrowSchema));
    if (s->val_schemas == NULL) return -1;
    s->n_vals = k;
    for (int64_t i = 0; i < s->n_chunks; i++) {
        s->chunks[i].vals = (struct ArrowArray *)PyMem_RawCalloc((size_t)k, sizeof(struct ArrowArray));
        if (s->chunks[i].vals == NULL) return -1;
    }
    return 0;
}

static int tlpy_stream_set_val_schema(tlpy_stream_t *s, int64_t k, const struct ArrowSchema *src,
                                      const char *name) {
    return tlpy_schema_copy(src, name, &s->val_schemas[k]);
}

/* Moves src into chunk i's column k (src is marked released). */
static void tlpy_stream_move_val(tlpy_stream_t *s, int64_t i, int64_t k, struct ArrowArray *src) {
    s->chunks[i].vals[k] = *src;
    src->release = NULL;
}

static int tlpy_stream_set_keep(tlpy_stream_t *s, PyObject *obj) {
    tlpy_keep_t *k = (tlpy_keep_t *)PyMem_RawMalloc(sizeof(*k));
    if (k == NULL) { PyErr_NoMemory(); return -1; }
    atomic_init(&k->refs, 1);
    Py_INCREF(obj);
    k->obj = obj;
    s->keep = k;
    return 0;
}

static int tlpy_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
    tlpy_stream_t *s = (tlpy_stream_t *)st->private_data;
    int64_t nk = 1 + s->n_vals;
    memset(out, 0, sizeof(*out));
    out->release = tlpy_schema_release;
    out->format = tlpy_strdup("+s");
    out->name = tlpy_strdup("");
    out->children = (struct ArrowSchema **)PyMem_RawCalloc((size_t)nk, sizeof(struct ArrowSchema *));
    if (out->format == NULL || out->name == NULL || out->children == NULL) goto oom;
    out->n_children = nk;
    for (int64_t i = 0; i < nk; i++) {
        out->children[i] = (struct ArrowSchema *)PyMem_RawCalloc(1, sizeof(struct ArrowSchema));
        if (out->children[i] == NULL) goto oom;
    }
    {
        struct ArrowSchema *t = out->children[0];
        t->release = tlpy_schema_release;
        t->format = tlpy_strdup(s->ts_format);
        t->name = tlpy_strdup("ts");
        if (t->format == NULL || t->name == NULL) goto oom;
    }
    for (int64_t k = 0; k < s->n_vals; k++)
        if (tlpy_schema_copy(&s->val_schemas[k], NULL, out->children[1 + k]) != 0) goto oom;
    return 0;
oom:
    tlpy_schema_release(out);
    strcpy(s->err, "out of memory exporting the schema");
    return ENOMEM;
}

static int tlpy_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
    tlpy_stream_t *s = (tlpy_stream_t *)st->private_data;
    memset(out, 0, sizeof(*out));
    if (s->next >= s->n_chunks) return 0;          /* end of stream: release NULL */
    tlpy_chunk_t *c = &s->chunks[s->next];
    int64_t nk = 1 + s->n_vals;
    tlpy_batch_priv_t *bp = (tlpy_batch_priv_t *)PyMem_RawCalloc(
        1, sizeof(*bp) + (size_t)nk * sizeof(struct ArrowArray));
    struct ArrowArray **kids = (struct ArrowArray **)PyMem_RawCalloc((size_t)nk, sizeof(*kids));
    tlpy_ts_priv_t *tp = (tlpy_ts_priv_t *)PyMem_RawCalloc(1, sizeof(*tp));
    if (bp == NULL || kids == NULL || tp == NULL) {
        PyMem_RawFree(bp); PyMem_RawFree(kids); PyMem_RawFree(tp);
        strcpy(s->err, "out of memory exporting a record batch");
        return ENOMEM;
    }
    tp->bufs[1] = c->ts;
    tp->own = c->own;
    c->own = NULL;
    if (c->zero_copy) {
        tlpy_keep_ref(s->keep);
        tp->keep = s->keep;
    }
    struct ArrowArray *ta = &bp->store[0];
    ta->length = c->n;
    ta->n_buffers = 2;
    ta->buffers = tp->bufs;
    ta->release = tlpy_ts_release;
    ta->private_data = tp;
    for (int64_t k = 0; k < s->n_vals; k++) {
        bp->store[1 + k] = c->vals[k];
        c->vals[k].release = NULL;
    }
    for (int64_t i = 0; i < nk; i++) kids[i] = &bp->store[i];
    bp->kids = kids;
    out->length = c->n;
    out->n_buffers = 1;
    out->buffers = bp->bufs;
    out->n_children = nk;
    out->children = kids;
    out->release = tlpy_batch_release;
    out->private_data = bp;
    s->next++;
    return 0;
}

static const char *tlpy_get_last_error(struct ArrowArrayStream *st) {
    tlpy_stream_t *s = (tlpy_stream_t *)st->private_data;
    return s->err[0] ? s->err : NULL;
}

static void tlpy_stream_release(struct ArrowArrayStream *st) {
    tlpy_stream_free((tlpy_stream_t *)st->private_data);
    st->private_data = NULL;
    st->release = NULL;
}

/* The capsule destructor releases a stream nobody imported. */
static void tlpy_stream_capsule_free(PyObject *cap) {
    struct ArrowArrayStream *st =
        (struct ArrowArrayStream *)PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (st == NULL) { PyErr_Clear(); return; }
    if (st->release != NULL) st->release(st);
    PyMem_RawFree(st);
}

/* Takes s (freed on failure, with a Python error set). */
static PyObject *tlpy_stream_capsule(tlpy_stream_t *s) {
    struct ArrowArrayStream *st = (struct ArrowArrayStream *)PyMem_RawMalloc(sizeof(*st));
    if (st == NULL) { tlpy_stream_free(s); return PyErr_NoMemory(); }
    st->get_schema = tlpy_get_schema;
    st->get_next = tlpy_get_next;
    st->get_last_error = tlpy_get_last_error;
    st->release = tlpy_stream_release;
    st->private_data = s;
    PyObject *cap = PyCapsule_New(st, "arrow_array_stream", tlpy_stream_capsule_free);
    if (cap == NULL) { st->release(st); PyMem_RawFree(st); }
    return cap;
}

static const struct ArrowSchema *tlpy_schema_of(PyObject *cap) {
    return (const struct ArrowSchema *)PyCapsule_GetPointer(cap, "arrow_schema");
}
static struct ArrowArray *tlpy_array_of(PyObject *cap) {
    return (struct ArrowArray *)PyCapsule_GetPointer(cap, "arrow_array");
}
static int64_t tlpy_array_len(const struct ArrowArray *a) { return a->length; }

#endif /* TIMELOG_ARROW_STREAM_H */
