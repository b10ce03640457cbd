# timelog/_arrow.pxi: the Arrow PyCapsule stream export (issue 18, item 1).
# Included at the end of _core.pyx (it uses _Snapshot, TimelogIter, _check, ...).
#
# ``log.__arrow_c_stream__``, ``it.__arrow_c_stream__`` and
# ``log.arrow(...).__arrow_c_stream__`` hand out an ArrowArrayStream of
# record batches ``struct<ts: timestamp[unit, tz=UTC], value...>``.
#
# Layout of one export. Everything is decided while __arrow_c_stream__ runs
# (GIL held, one snapshot): the range is cut into chunks, and each chunk is
# either
# - a zero-copy span: a run of records in one immutable source (memrun, L0 or
#   L1 segment) that no other source and no memtable record reaches into
#   (the exact count over its interval equals its length), so the
#   concatenation of the chunks is exactly the merged iteration order; its
#   ts buffer points into the page memory, kept alive by the snapshot pin; or
# - a copied gap: everything between two such spans (memtable records,
#   overlapping L0 segments, ties across sources) read through the engine's
#   merge iterator with the GIL released, at most _ARROW_CHUNK records a
#   chunk.
# Payloads of all chunks go through pyarrow once (one inferred type for the
# whole stream), then the result is sliced per chunk; the slices are moved
# into the stream. So get_next/get_schema never run Python code and never
# need the GIL, which matters: Polars and DuckDB call them from their own
# threads, possibly while the calling thread holds the GIL and waits.
#
# Lifetime: the snapshot pin (a _Snapshot, which also drains the log's
# retired queue when released) is shared by the stream and by every ts
# child it exported, through an atomic count in C (tlpy_keep_t). The last
# one to go takes the GIL (PyGILState_Ensure: Arrow release callbacks may run
# on any thread, without it) and drops the _Snapshot. At interpreter
# shutdown the reference is left to process exit instead: taking the GIL
# there can hang or crash a foreign thread. Every block a release callback
# frees is PyMem_Raw memory, which needs no GIL.

from cpython.mem cimport PyMem_Realloc

cdef extern from *:
    """
    #include <errno.h>
    #include <stdatomic.h>
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
    """
    ctypedef struct tlpy_stream_t:
        pass
    struct ArrowSchema:
        pass
    struct ArrowArray:
        pass
    tlpy_stream_t *tlpy_stream_new(const char *ts_format) noexcept
    void tlpy_stream_free(tlpy_stream_t *s) noexcept
    int tlpy_stream_add(tlpy_stream_t *s, int64_t n, const int64_t *ts, int64_t *own) noexcept
    void tlpy_stream_skip(tlpy_stream_t *s, int64_t k) noexcept
    int64_t tlpy_stream_len(const tlpy_stream_t *s, int64_t i) noexcept
    int64_t tlpy_stream_nchunks(const tlpy_stream_t *s) noexcept
    const int64_t *tlpy_stream_ts(const tlpy_stream_t *s, int64_t i) noexcept
    int tlpy_stream_has_zero_copy(const tlpy_stream_t *s) noexcept
    int tlpy_stream_set_nvals(tlpy_stream_t *s, int64_t k) noexcept
    int tlpy_stream_set_val_schema(tlpy_stream_t *s, int64_t k, const ArrowSchema *src,
                                   const char *name) noexcept
    void tlpy_stream_move_val(tlpy_stream_t *s, int64_t i, int64_t k, ArrowArray *src) noexcept
    int tlpy_stream_set_keep(tlpy_stream_t *s, object obj) except -1
    object tlpy_stream_capsule(tlpy_stream_t *s)
    const ArrowSchema *tlpy_schema_of(object cap) except NULL
    ArrowArray *tlpy_array_of(object cap) except NULL
    int64_t tlpy_array_len(const ArrowArray *a) noexcept


cdef enum:
    _ARROW_CHUNK = 1 << 20   # records per copied chunk (memtable, overlaps)

_ARROW_TS_FORMATS = {TL_UNIT_S: b"tss:UTC", TL_UNIT_MS: b"tsm:UTC",
                     TL_UNIT_US: b"tsu:UTC", TL_UNIT_NS: b"tsn:UTC"}


cdef tl_status_t _count_closed(tl_snapshot_t *snap, int64_t x, int64_t y,
                               uint64_t *out) noexcept nogil:
    """Visible records in the closed interval [x, y] (y may be 2**63-1)."""
    if y == TL_TS_MAX:
        return tl_count_since(snap, x, out)
    return tl_count_range(snap, x, y + 1, out)


@cython.final
cdef class _Handles:
    """The handles of an export's rows, in order. Borrowed: valid while the
    export's snapshot is pinned (payloads are converted before it returns)."""
    cdef tl_handle_t *h
    cdef size_t n
    cdef size_t cap

    def __dealloc__(self):
        PyMem_Free(self.h)

    cdef tl_handle_t *reserve(self, size_t k) except NULL:
        """Room for k more handles at the end; returns where they go."""
        cdef size_t cap = self.cap
        cdef tl_handle_t *p
        if self.n + k > cap:
            cap = max(self.n + k, 2 * cap, <size_t> 1024)
            p = <tl_handle_t *> PyMem_Realloc(self.h, cap * sizeof(tl_handle_t))
            if p is NULL:
                raise MemoryError()
            self.h = p
            self.cap = cap
        return self.h + self.n


cdef int _arrow_copy_iter(tlpy_stream_t *s, tl_iter_t *it, uint64_t n, _Handles hs) except -1:
    """Copies n records of it into chunks of at most _ARROW_CHUNK, the
    timestamps into buffers the stream owns and the handles onto hs (unless
    None), both filled by the engine with the GIL released."""
    cdef tl_handle_t *hdst = NULL
    cdef int64_t *own
    cdef size_t want, got = 0
    cdef tl_status_t st
    while n > 0:
        want = <size_t> min(n, <uint64_t> _ARROW_CHUNK)
        if hs is not None:
            hdst = hs.reserve(want)
        own = <int64_t *> PyMem_RawMalloc(want * sizeof(int64_t))
        if own is NULL:
            raise MemoryError()
        with nogil:
            st = tl_iter_next_batch(it, own, hdst, want, &got)
        if (st != TL_OK and st != TL_EOF) or got == 0:
            PyMem_RawFree(own)
            _check(st)
            raise TimelogError("internal error: the engine yielded fewer records "
                               "than its exact count")
        if tlpy_stream_add(s, <int64_t> got, own, own) != 0:
            raise MemoryError()
        if hs is not None:
            hs.n += got
        n -= got
    return 0


cdef int _arrow_copy_gap(tlpy_stream_t *s, tl_snapshot_t *snap, int64_t x, int64_t y,
                         _Handles hs) except -1:
    """Copies the closed interval [x, y] through the merge iterator."""
    cdef uint64_t n = 0
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    with nogil:
        st = _count_closed(snap, x, y, &n)
        if st == TL_OK and n > 0:
            if y == TL_TS_MAX:
                st = tl_iter_since(snap, x, &it)
            else:
                st = tl_iter_range(snap, x, y + 1, &it)
    if st != TL_OK:
        tl_iter_close(it)
        _check(st)
    if n == 0:
        return 0
    try:
        return _arrow_copy_iter(s, it, n, hs)
    finally:
        # The caller's snapshot pins the same state, so closing drops nothing.
        tl_iter_close(it)


cdef int _arrow_plan(tlpy_stream_t *s, tl_snapshot_t *snap, int64_t lo, int64_t hi,
                     _Handles hs) except -1:
    """Cuts [lo, hi] (closed) into zero-copy spans and copied gaps, in order."""
    cdef tl_span_iter_t *sit = NULL
    cdef tl_span_t sp
    cdef tl_status_t st
    cdef uint64_t c = 0
    cdef int64_t cursor = lo, first, last
    cdef size_t n
    cdef bint done = False
    if hi == TL_TS_MAX:
        st = tl_spans_since(snap, lo, &sit)
    else:
        st = tl_spans_range(snap, lo, hi + 1, &sit)
    _check(st)
    spans = []
    try:
        while True:
            st = tl_spans_next(sit, &sp)
            if st == TL_EOF:
                break
            _check(st)
            if sp.n > 0:
                spans.append((sp.ts[0], sp.ts[sp.n - 1], <size_t> sp.ts, <size_t> sp.h, sp.n))
    finally:
        tl_spans_close(sit)
    # Sources come in manifest order; time order is what the stream needs.
    spans.sort()
    for first, last, tsa, ha, n in spans:
        if done or first < cursor:
            continue
        _check(_count_closed(snap, first, last, &c))
        if c != n:
            continue      # another source reaches into it: left to a copied gap
        if first > cursor:
            _arrow_copy_gap(s, snap, cursor, first - 1, hs)
        if tlpy_stream_add(s, <int64_t> n, <const int64_t *> <size_t> tsa, NULL) != 0:
            raise MemoryError()
        if hs is not None:
            memcpy(hs.reserve(n), <const tl_handle_t *> <size_t> ha, n * sizeof(tl_handle_t))
            hs.n += n
        if last == TL_TS_MAX:
            done = True
        else:
            cursor = last + 1
    if not done:
        _arrow_copy_gap(s, snap, cursor, hi, hs)
    return 0


cdef object _arrow_fast_numbers(const tl_handle_t *h, size_t n):
    """A float64 (int64) ndarray of the n objects when every one is an exact float
    (an exact int within int64): the type pyarrow would infer, read here in
    C at a few ns a record instead of through pyarrow's per-object
    inference. None otherwise (the general path decides)."""
    cdef size_t i
    cdef PyObject *o
    cdef double *d
    cdef int64_t *v
    cdef int overflow = 0
    cdef cnp.npy_intp dims = n
    cdef cnp.ndarray arr
    if n == 0:
        return None
    if _is_exact_float(<PyObject *> <size_t> h[0]):
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_FLOAT64, 0)
        d = <double *> cnp.PyArray_DATA(arr)
        for i in range(n):
            o = <PyObject *> <size_t> h[i]
            if not _is_exact_float(o):
                return None
            d[i] = _float_as_double(o)
        return arr
    if _is_exact_int(<PyObject *> <size_t> h[0]):
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        v = <int64_t *> cnp.PyArray_DATA(arr)
        for i in range(n):
            o = <PyObject *> <size_t> h[i]
            if not _is_exact_int(o):
                return None
            v[i] = _as_ll_overflow(o, &overflow)
            if overflow:
                return None
        return arr
    return None


cdef int _arrow_payloads(tlpy_stream_t *s, object mode, const tl_handle_t *h,
                         size_t n) except -1:
    """Converts every payload through pyarrow at once (one type for the whole
    stream) and moves one slice per chunk into the stream."""
    cdef int64_t i, nch, k, off, m
    cdef ArrowArray *src
    payload_mod = _importlib.import_module("timelog._arrow_payload")
    fast = _arrow_fast_numbers(h, n) if mode == "auto" else None
    try:
        if fast is not None:
            columns = [("value", payload_mod.require_pyarrow().array(fast))]
        else:
            columns = payload_mod.convert(_list_borrowed(h, n), mode)
    except payload_mod.PayloadRowError as e:
        raise e.error(_arrow_row_ts(s, e.row)) from None
    if tlpy_stream_set_nvals(s, len(columns)) != 0:
        raise MemoryError()
    nch = tlpy_stream_nchunks(s)
    for k, (name, arr) in enumerate(columns):
        schema_cap, _ = arr.slice(0, 0).__arrow_c_array__()
        if tlpy_stream_set_val_schema(s, k, tlpy_schema_of(schema_cap),
                                      (<str> name).encode("utf-8")) != 0:
            raise MemoryError()
        off = 0
        for i in range(nch):
            m = tlpy_stream_len(s, i)
            _, array_cap = arr.slice(off, m).__arrow_c_array__()
            src = tlpy_array_of(array_cap)
            if tlpy_array_len(src) != m:
                raise TimelogError("internal error: a payload slice has the wrong length")
            tlpy_stream_move_val(s, i, k, src)
            off += m
    return 0


cdef object _arrow_row_ts(tlpy_stream_t *s, int64_t row):
    """The timestamp of export row ``row`` (for error messages)."""
    cdef int64_t i, n
    for i in range(tlpy_stream_nchunks(s)):
        n = tlpy_stream_len(s, i)
        if row < n:
            return tlpy_stream_ts(s, i)[row]
        row -= n
    return None


cdef object _arrow_finish(tlpy_stream_t *s, object mode, _Handles hs, size_t skip,
                          _Snapshot keep):
    """Payloads (of hs's handles but the first skip), the pin, then the
    capsule (which owns s from here)."""
    try:
        if mode is not None:
            if hs is None or hs.n == 0:
                _arrow_payloads(s, mode, NULL, 0)
            else:
                _arrow_payloads(s, mode, hs.h + skip, hs.n - skip)
        if keep is not None and tlpy_stream_has_zero_copy(s):
            tlpy_stream_set_keep(s, keep)
    except BaseException:
        tlpy_stream_free(s)
        raise
    return tlpy_stream_capsule(s)


cdef tlpy_stream_t *_arrow_new(int unit) except NULL:
    cdef tlpy_stream_t *s = tlpy_stream_new(<bytes> _ARROW_TS_FORMATS[unit])
    if s is NULL:
        raise MemoryError()
    return s


cdef object _arrow_mode(object payload):
    return _importlib.import_module("timelog._arrow_payload").check_mode(payload)


cdef bint _arrow_bounds(int kind, int64_t a, int64_t b, int64_t *lo, int64_t *hi) noexcept:
    """The closed interval [lo, hi] of range (kind, a, b); True when empty."""
    lo[0] = TL_TS_MIN
    hi[0] = TL_TS_MAX
    if kind == _K_SINCE:
        lo[0] = a
    elif kind == _K_UNTIL:
        if b == TL_TS_MIN:
            return True
        hi[0] = b - 1
    elif kind == _K_RANGE:
        if a >= b:
            return True
        lo[0] = a
        hi[0] = b - 1
    elif kind == _K_POINT:
        lo[0] = a
        hi[0] = a
    return False


cdef object _arrow_export_snap(_Snapshot snap, int unit, int kind, int64_t a, int64_t b,
                               object mode, uint64_t skip=0):
    """The stream of range (kind, a, b) of a pinned snapshot, less its first
    ``skip`` records (what an iterator already yielded)."""
    cdef tlpy_stream_t *s
    cdef int64_t lo = 0, hi = 0
    hs = _Handles() if mode is not None else None
    s = _arrow_new(unit)
    try:
        if not _arrow_bounds(kind, a, b, &lo, &hi):
            _arrow_plan(s, snap._snap, lo, hi, hs)
        if skip > 0:
            tlpy_stream_skip(s, <int64_t> skip)
    except BaseException:
        tlpy_stream_free(s)
        raise
    return _arrow_finish(s, mode, hs, skip, snap)


def _arrow_stream(Timelog log, t1, t2, payload, requested_schema=None):
    """``log.arrow(t1, t2, payload=...).__arrow_c_stream__()``: a capsule.

    requested_schema is accepted and ignored: the PyCapsule interface makes
    it best-effort, and the consumer checks the schema it gets.
    """
    cdef int64_t a = 0, b = 0
    cdef int kind
    mode = _arrow_mode(payload)
    _log_require_open(log)
    kind = _range_kind(t1, t2, log._unit, &a, &b)
    return _arrow_export_snap(_log_snapshot(log), log._unit, kind, a, b, mode)


def _arrow_stream_of_log(Timelog log, requested_schema=None):
    """``log.__arrow_c_stream__()``: the whole log, payloads inferred."""
    return _arrow_stream(log, None, None, "auto", requested_schema)


def _arrow_stream_of_iter(TimelogIter it, requested_schema=None):
    """``it.__arrow_c_stream__()``: the records the iterator has not yielded.

    Reads the iterator's snapshot, zero-copy where the pages allow, and
    leaves the iterator where it is: consumers such as DuckDB call
    ``__arrow_c_stream__`` more than once (schema, then scan), and each call
    must see the same records. A closed or exhausted iterator exports none.
    """
    cdef _Snapshot snap
    cdef uint64_t rem = 0, total = 0
    cdef tl_status_t st
    cdef int64_t lo = 0, hi = 0
    cdef bint empty
    mode = _arrow_mode("auto")
    unit = it._owner._unit if it._owner is not None else TL_UNIT_MS
    if it._it is NULL:
        return _arrow_finish(_arrow_new(unit), mode, None, 0, None)
    it._acquire()
    try:
        snap = _Snapshot.__new__(_Snapshot)
        # Checked after the allocation: it may run finalizers that close it.
        if it._it is NULL:
            raise TimelogError("iterator is closed")
        _check(tl_iter_snapshot(it._it, &snap._snap))
        snap._owner = it._owner
        empty = _arrow_bounds(it._kind, it._t1, it._t2, &lo, &hi)
        if not it._eof:
            with nogil:
                st = tl_iter_remaining(it._it, &rem)
            _check(st)
        rem += it._n - it._pos
        if not empty:
            _check(_count_closed(snap._snap, lo, hi, &total))
    finally:
        it._release_busy()
    return _arrow_export_snap(snap, unit, it._kind, it._t1, it._t2, mode, total - rem)


def _arrow_range(Timelog log, t1, t2, payload):
    """``log.arrow(...)``: a reusable exporter object (timelog._frames)."""
    _log_require_open(log)
    return _importlib.import_module("timelog._frames").ArrowRange(log, t1, t2, payload)


def _arrow_frame(str what, Timelog log, *args, **kwargs):
    """``log.to_arrow/to_polars(...)``: see timelog._frames."""
    # A closed log says so whether or not pyarrow / Polars is installed.
    _log_require_open(log)
    return getattr(_importlib.import_module("timelog._frames"), what)(log, *args, **kwargs)
