/*
 * _dict_presized.h: a dict sized for n keys up front, for to_dict()
 * (timelog/_export.pxi). The presizing call is CPython-private, so newer
 * versions (and PyPy) fall back to PyDict_New().
 */
#ifndef TIMELOG_DICT_PRESIZED_H
#define TIMELOG_DICT_PRESIZED_H

#include <Python.h>

static PyObject *_tlpy_dict_presized(Py_ssize_t n) {
#if PY_VERSION_HEX < 0x030D0000 && !defined(PYPY_VERSION)
    return _PyDict_NewPresized(n);
#else
    (void)n;
    return PyDict_New();
#endif
}

#endif /* TIMELOG_DICT_PRESIZED_H */
