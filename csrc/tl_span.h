/*
 * tl_span.h: zero-copy spans over a snapshot's immutable sources
 * (tl_span.c). The entry points are public (tl_spans_range, tl_spans_since,
 * tl_spans_all, tl_spans_next, tl_spans_close in timelog.h) and the span
 * iterator is opaque there; nothing else in the engine calls into spans, so
 * this header only names what tl_span.c builds on.
 *
 * A span is a plain pointer + length into page memory, valid while the
 * iterator's snapshot is pinned: in an immutable source a tombstone hides
 * all or none of the records inside its interval, so visible records form
 * whole sub-runs, never a mask.
 */
#ifndef TL_SPAN_H
#define TL_SPAN_H

#include "tl_source.h"

#endif /* TL_SPAN_H */
