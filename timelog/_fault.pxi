# _fault.pxi (included by _core.pyx): the fault-injecting allocator behind
# Timelog(_fail_alloc=...), for the test-suite only. The allocator itself is
# C (_fault_alloc.h); this file declares it and validates the argument.

# ---------------------------------------------------------------- fault injection
#
# Timelog(_fail_alloc=(k, every)) opens its engine on this allocator instead
# of libc's: the k-th allocation call counted from the last arming fails
# (returns NULL), and, when every > 0, each every-th call after it too. It is
# internal, for the test-suite (tests/test_fault_injection.py walks k over
# every allocation of a workload). One context per engine, owned by the
# Timelog that opened it (no global state); the counters are atomics because
# the background worker allocates too. Frees go to libc: a failed call
# allocated nothing.
cdef extern from "_fault_alloc.h":
    void *_tlpy_fault_malloc(void *ctx, size_t n) nogil
    void *_tlpy_fault_realloc(void *ctx, void *p, size_t old_n, size_t new_n) nogil
    void _tlpy_fault_free(void *ctx, void *p, size_t n) nogil
    _tlpy_fault_t *_tlpy_fault_new(_tlpy_fault_t *next) nogil
    void _tlpy_fault_arm(_tlpy_fault_t *f, uint64_t k, uint64_t every) nogil
    uint64_t _tlpy_fault_calls(_tlpy_fault_t *f) nogil
    uint64_t _tlpy_fault_injected(_tlpy_fault_t *f) nogil
    void _tlpy_fault_free_all(_tlpy_fault_t *f) nogil


# ---------------------------------------------------------------- fault injection (internal)

cdef tuple _fault_spec(object spec):
    """Timelog(_fail_alloc=...) -> None or (k, every), validated.

    None: the engine uses libc's allocator. k (an int) or (k, every): the
    fault-injecting allocator, with the k-th allocation call failing (0 =
    none, only counting) and then every every-th call after it (0 = once).
    """
    if spec is None:
        return None
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError("_fail_alloc must be k or (k, every), got %r" % (spec,))
        k, every = spec
    else:
        k, every = spec, 0
    return (_int_knob("_fail_alloc k", k, 0, _I64_MAX),
            _int_knob("_fail_alloc every", every, 0, _I64_MAX))
