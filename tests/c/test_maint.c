/*
 * test_maint.c: the maintenance policy's decision table (tl_maint.h).
 * Priority: a frozen memtable (seal it) beats a full memtable (seal), which
 * beats sources deletes hide entirely (drop them whole), which beat waiting
 * memruns (flush), which beat L0 fan-out (compact), which beats delete debt
 * (compact), which beats a grown tombstone set (forget); a zero debt
 * threshold (never the resolved default) turns debt compaction off. The
 * policy allocates nothing.
 */
#include "comp_fixture.h"
#include "tl_maint.h"

static tl_maint_shape_t shape(bool full, size_t memruns, size_t l0, size_t max_delta,
                              double debt, double threshold) {
    tl_maint_shape_t s = {full, memruns, l0, max_delta, debt, threshold, false, 0, false};
    return s;
}

Test(maint, next_action_follows_the_priority_table) {
    TC_MEM(t);
    struct {
        tl_maint_shape_t s;
        tl_maint_action_t want;
        const char *why;
    } rows[] = {
        {shape(false, 0, 0, 4, 0.0, 0.0), TL_MA_NONE, "idle log"},
        {shape(true, 0, 0, 4, 0.0, 0.0), TL_MA_SEAL, "full memtable"},
        {shape(true, 3, 9, 4, 0.9, 0.1), TL_MA_SEAL, "a full memtable comes first"},
        {shape(false, 1, 0, 4, 0.0, 0.0), TL_MA_FLUSH, "a waiting memrun"},
        {shape(false, 2, 9, 4, 0.9, 0.1), TL_MA_FLUSH, "flush before compaction"},
        {shape(false, 0, 3, 4, 0.0, 0.0), TL_MA_NONE, "L0 below max_delta_segments"},
        {shape(false, 0, 4, 4, 0.0, 0.0), TL_MA_COMPACT_L0, "L0 at max_delta_segments"},
        {shape(false, 0, 5, 4, 0.0, 0.0), TL_MA_COMPACT_L0, "L0 past max_delta_segments"},
        {shape(false, 0, 4, 4, 0.9, 0.1), TL_MA_COMPACT_L0, "L0 fan-out before debt"},
        {shape(false, 0, 0, 0, 0.0, 0.0), TL_MA_NONE, "no L0 segment with max_delta 0"},
        {shape(false, 0, 1, 1, 0.0, 0.0), TL_MA_COMPACT_L0, "one L0 segment, max_delta 1"},
        {shape(false, 0, 0, 4, 0.5, 0.5), TL_MA_COMPACT_DEBT, "debt at the threshold"},
        {shape(false, 0, 2, 4, 0.6, 0.5), TL_MA_COMPACT_DEBT, "debt past the threshold"},
        {shape(false, 0, 0, 4, 0.49, 0.5), TL_MA_NONE, "debt below the threshold"},
        {shape(false, 0, 0, 4, 1.0, 0.0), TL_MA_NONE, "threshold 0 turns debt off"},
        {shape(false, 0, 0, 4, 1.0, 1.0), TL_MA_COMPACT_DEBT, "everything hidden, threshold 1"},
    };
    /* Wholly hidden sources: dropped before anything but the seals. */
    tl_maint_shape_t cov = shape(false, 3, 9, 4, 0.9, 0.1);
    cov.covered = 1;
    cr_assert_eq(tl_maint_next(&cov), TL_MA_DROP_COVERED, "covered before flush and compaction");
    cov.memtable_full = true;
    cr_assert_eq(tl_maint_next(&cov), TL_MA_SEAL, "a full memtable before covered sources");
    /* A grown tombstone set: forgotten only when nothing else is due. */
    tl_maint_shape_t fg = shape(false, 0, 0, 4, 0.0, 0.5);
    fg.forget_due = true;
    cr_assert_eq(tl_maint_next(&fg), TL_MA_FORGET, "forget when idle");
    fg.delete_debt = 0.6;
    cr_assert_eq(tl_maint_next(&fg), TL_MA_COMPACT_DEBT, "debt compaction forgets too");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tl_maint_action_t got = tl_maint_next(&rows[i].s);
        cr_assert_eq(got, rows[i].want, "%s: got %d want %d", rows[i].why, (int)got,
                     (int)rows[i].want);
        /* A frozen memtable (older data) is sealed before anything else. */
        tl_maint_shape_t f = rows[i].s;
        f.frozen = true;
        cr_assert_eq(tl_maint_next(&f), TL_MA_SEAL_FROZEN, "%s, with a frozen memtable",
                     rows[i].why);
    }
    cr_assert_eq(t.a.calls, 0);
    tc_end(&t);
}

/* The same rule written out independently, over a grid of shapes. */
static tl_maint_action_t reference(const tl_maint_shape_t *s) {
    if (s->frozen) return TL_MA_SEAL_FROZEN;
    if (s->memtable_full) return TL_MA_SEAL;
    if (s->covered != 0) return TL_MA_DROP_COVERED;
    if (s->memruns != 0) return TL_MA_FLUSH;
    bool fanout = s->l0_segments != 0 && s->l0_segments >= s->max_delta_segments;
    if (fanout) return TL_MA_COMPACT_L0;
    bool debt = s->delete_debt_threshold > 0.0 && s->delete_debt >= s->delete_debt_threshold;
    if (debt) return TL_MA_COMPACT_DEBT;
    return s->forget_due ? TL_MA_FORGET : TL_MA_NONE;
}

Test(maint, grid_agrees_with_the_priority_order) {
    TC_MEM(t);
    double debts[] = {0.0, 0.25, 0.5, 1.0};
    double thresholds[] = {0.0, 0.25, 0.5, 1.0};
    size_t counts[] = {0, 1, 2, 3, 8};
    size_t n = 0;
    for (int full = 0; full < 16; full++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 5; b++)
                for (size_t c = 0; c < 5; c++)
                    for (size_t d = 0; d < 4; d++)
                        for (size_t e = 0; e < 4; e++) {
                            tl_maint_shape_t s = shape(full & 1, counts[a], counts[b],
                                                       counts[c], debts[d], thresholds[e]);
                            s.frozen = (full & 2) != 0;
                            s.covered = (full & 4) != 0 ? 2 : 0;
                            s.forget_due = (full & 8) != 0;
                            cr_assert_eq(tl_maint_next(&s), reference(&s),
                                         "full|frozen|covered|forget=%d memruns=%zu l0=%zu max_delta=%zu debt=%g "
                                         "threshold=%g",
                                         full, counts[a], counts[b], counts[c], debts[d],
                                         thresholds[e]);
                            n++;
                        }
    cr_assert_eq(n, 16 * 5 * 5 * 5 * 4 * 4);
    tc_end(&t);
}
