/* Force-included (gcc -include) when building the reference design's
 * timelog-lib >= 1.2 sdist on CPython 3.11, which it does not support: it
 * uses two CPython 3.12 functions and one type flag. This supplies the
 * functions with their documented 3.11 equivalents (as pythoncapi-compat
 * does) and the flag as "no weakrefs"; no timelog-lib source is changed.
 * Used only by benchmarks/compare.py's peer build, never by timelog itself. */
#if defined(__has_include)
#  if __has_include(<Python.h>)
#    define PY_SSIZE_T_CLEAN
#    include <Python.h>
#    if PY_VERSION_HEX < 0x030C0000
/* 3.12 types may keep weakrefs in a managed slot; on 3.11 the flag does not
 * exist, and 0 leaves those types without weakref support. Their dealloc
 * still calls PyObject_ClearWeakRefs, which on 3.11 raises SystemError for a
 * type without weakref support: call it only where the type has them. */
#      ifndef Py_TPFLAGS_MANAGED_WEAKREF
#        define Py_TPFLAGS_MANAGED_WEAKREF 0
static inline void tl_py311_ClearWeakRefs(PyObject *o)
{
    if (PyType_SUPPORTS_WEAKREFS(Py_TYPE(o))) {
        PyObject_ClearWeakRefs(o);
    }
}
#        define PyObject_ClearWeakRefs tl_py311_ClearWeakRefs
#      endif
static inline PyObject *PyErr_GetRaisedException(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}
static inline void PyErr_SetRaisedException(PyObject *exc)
{
    if (exc == NULL) {
        PyErr_Restore(NULL, NULL, NULL);
        return;
    }
    PyObject *type = (PyObject *)Py_TYPE(exc);
    Py_INCREF(type);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
}
#    endif
#  endif
#endif
