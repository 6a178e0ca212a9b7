/* test_lookaside_depth.c - the balance set pass: how a list's depth follows its traffic, and trimming. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ntddk.h>
#include <ntmem.h>

#include "lookasidetest.h"
#include "pooltest.h"

#define TAG_D 'htpD' /* "Dpth" */
#define BLOCK 64
#define BURST 1000   /* more than Depth + Depth/2 can ever hold: every busy period misses */

/* The documented rule, written independently of the implementation. */
static USHORT rule(ULONG allocates, ULONG misses, USHORT depth)
{
    long d = depth;
    if (allocates < 25) {
        d -= 10;
    } else if (misses * 1000ull / allocates < 5) {
        d -= 1;
    } else {
        d += (long)((256 - d) * (misses * 1000ull / allocates) / 2000) + 5;
    }
    if (d < 4)
        d = 4;
    if (d > 256)
        d = 256;
    return (USHORT)d;
}

static NPAGED_LOOKASIDE_LIST List;
static PVOID Held[BURST];

static void setup(void)
{
    ntmem_set_lookaside_period(0); /* only the test's passes move the depth */
    ExInitializeNPagedLookasideList(&List, NULL, NULL, 0, BLOCK, TAG_D, 0);
}

static void teardown(void)
{
    ExDeleteNPagedLookasideList(&List);
}

static void burst(ULONG n)
{
    for (ULONG i = 0; i < n; i++) {
        Held[i] = ExAllocateFromNPagedLookasideList(&List);
        ck_assert_ptr_nonnull(Held[i]);
    }
    for (ULONG i = 0; i < n; i++)
        ExFreeToNPagedLookasideList(&List, Held[i]);
}

static void pairs(ULONG n)
{
    for (ULONG i = 0; i < n; i++)
        ExFreeToNPagedLookasideList(&List, ExAllocateFromNPagedLookasideList(&List));
}

static SIZE_T tag_used(void)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(TAG_D, &t);
    return t.NonPagedUsed;
}

static ULONG tag_frees(void)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(TAG_D, &t);
    return t.NonPagedFrees;
}

/* One balance-set pass; checks the new depth against the rule and returns it. */
static USHORT pass(const NTMEM_LOOKASIDE_INFO *before_period, NTMEM_LOOKASIDE_INFO *now)
{
    NTMEM_LOOKASIDE_INFO b = lt_must_info(&List);
    USHORT expect = rule((ULONG)(b.TotalAllocates - before_period->TotalAllocates),
                         (ULONG)(b.AllocateMisses - before_period->AllocateMisses), List.L.Depth);
    ntmem_adjust_lookaside_depths();
    *now = lt_must_info(&List);
    ck_assert_msg(List.L.Depth == expect,
                  "depth %u after a period of %llu allocations and %llu misses at depth %u; the rule gives %u",
                  List.L.Depth, (unsigned long long)(b.TotalAllocates - before_period->TotalAllocates),
                  (unsigned long long)(b.AllocateMisses - before_period->AllocateMisses), b.Depth, expect);
    ck_assert_uint_eq(now->Depth, List.L.Depth);
    ck_assert_uint_le(QueryDepthSList(&List.L.ListHead), List.L.Depth);
    /* The pass refreshed the 32-bit fields and remembered them for the next period. */
    ck_assert_uint_eq(List.L.TotalAllocates, (ULONG)now->TotalAllocates);
    ck_assert_uint_eq(List.L.LastTotalAllocates, List.L.TotalAllocates);
    ck_assert_uint_eq(List.L.LastAllocateMisses, List.L.AllocateMisses);
    return List.L.Depth;
}

/* Busy periods that miss: 135, then 200, then up to the maximum, never down. */
static void rise_to_maximum(void)
{
    NTMEM_LOOKASIDE_INFO prev = lt_must_info(&List), now;
    ck_assert_uint_eq(prev.Depth, 4);
    USHORT depth = 4;
    for (int p = 1; p <= 12; p++) {
        burst(BURST);
        USHORT d = pass(&prev, &now);
        if (p == 1) /* 1000 of 1000 missed: 4 + 252 * 1000 / 2000 + 5 */
            ck_assert_uint_eq(d, 135);
        if (p == 2) /* the list held 4 + 2: 994 misses: 135 + 121 * 994 / 2000 + 5 */
            ck_assert_uint_eq(d, 200);
        ck_assert_msg(d >= depth, "depth fell from %u to %u in a busy, missing period", depth, d);
        ck_assert_uint_gt(now.AllocateMisses - prev.AllocateMisses, BURST / 2);
        depth = d;
        prev = now;
    }
    ck_assert_uint_eq(depth, 256);
}

START_TEST(busy_missing_periods_raise_the_depth_to_the_maximum)
{
    rise_to_maximum();
    /* At the maximum it stays there. */
    NTMEM_LOOKASIDE_INFO prev = lt_must_info(&List), now;
    burst(BURST);
    ck_assert_uint_eq(pass(&prev, &now), 256);
    ck_assert_uint_eq(List.L.MaximumDepth, 256);
}
END_TEST

START_TEST(busy_hitting_periods_lower_the_depth_by_one)
{
    NTMEM_LOOKASIDE_INFO prev = lt_must_info(&List), now;
    burst(BURST);
    pass(&prev, &now);
    prev = now;
    burst(BURST);
    ck_assert_uint_eq(pass(&prev, &now), 200);
    for (USHORT expect = 199; expect >= 190; expect--) {
        prev = now;
        pairs(100); /* every one a hit from this thread's cache */
        USHORT d = pass(&prev, &now);
        ck_assert_uint_eq(now.AllocateMisses, prev.AllocateMisses);
        ck_assert_uint_eq(d, expect);
    }
    /* Exactly 25 allocations is busy (down 1), 24 is idle (down 10). */
    prev = now;
    pairs(25);
    ck_assert_uint_eq(pass(&prev, &now), 189);
    prev = now;
    pairs(24);
    ck_assert_uint_eq(pass(&prev, &now), 179);
}
END_TEST

START_TEST(idle_periods_lower_the_depth_by_ten_and_trim_to_pool)
{
    rise_to_maximum();
    NTMEM_LOOKASIDE_INFO busy = lt_must_info(&List), prev = busy, now;
    SIZE_T used_busy = tag_used();
    ULONG frees_busy = tag_frees();
    ck_assert_uint_eq(used_busy, busy.HeldBlocks * pt_small_block_bytes(BLOCK));
    ck_assert_uint_gt(QueryDepthSList(&List.L.ListHead), 100);
    USHORT expect = 256;
    for (int p = 0; p < 30; p++) {
        expect = expect > 14 ? expect - 10 : 4;
        ck_assert_uint_eq(pass(&prev, &now), expect);
        ck_assert_uint_le(QueryDepthSList(&List.L.ListHead), expect);
        ck_assert_uint_eq(tag_used(), now.HeldBlocks * pt_small_block_bytes(BLOCK));
        prev = now;
    }
    ck_assert_uint_eq(List.L.Depth, 4);
    /* Idle trimming gave the shared list's blocks back to pool: what is left is depth 4 plus what
     * this thread's cache kept. */
    ULONG64 shared = QueryDepthSList(&List.L.ListHead);
    ULONG64 cached = now.HeldBlocks - shared;
    ck_assert_uint_le(shared, 4);
    ck_assert_uint_lt(tag_used(), used_busy);
    ck_assert_uint_le(tag_used(), (4 + cached) * pt_small_block_bytes(BLOCK));
    ck_assert_uint_eq(tag_frees() - frees_busy, busy.HeldBlocks - now.HeldBlocks); /* to pool, not lost */
    ck_assert_uint_eq(now.TotalAllocates, busy.TotalAllocates);
    /* The owner's next free brings its cache within Depth/2: then the list holds at most 4 + 2. */
    pairs(1);
    now = lt_must_info(&List);
    ck_assert_msg(now.HeldBlocks <= 6, "list holds %llu blocks at depth 4", (unsigned long long)now.HeldBlocks);
    ck_assert_uint_eq(tag_used(), now.HeldBlocks * pt_small_block_bytes(BLOCK));
}
END_TEST

START_TEST(an_idle_list_never_goes_below_four)
{
    NTMEM_LOOKASIDE_INFO prev = lt_must_info(&List), now;
    for (int p = 0; p < 5; p++) {
        ck_assert_uint_eq(pass(&prev, &now), 4);
        prev = now;
    }
}
END_TEST

/* ---- the balance set thread --------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(the_balance_set_thread_adapts_depth_on_its_own)
{
    NPAGED_LOOKASIDE_LIST l;
    ntmem_set_lookaside_period(50);
    ExInitializeNPagedLookasideList(&l, NULL, NULL, 0, BLOCK, TAG_D, 0);
    ck_assert_uint_eq(lt_depth(&l.L), 4);
    /* Busy: bursts that miss, for ~300 ms (longer if the machine is slow to show a pass). */
    double t0 = now_ms();
    USHORT peak = 4;
    while (now_ms() - t0 < 300 || (peak == 4 && now_ms() - t0 < 5000)) {
        for (int i = 0; i < BURST; i++)
            Held[i] = ExAllocateFromNPagedLookasideList(&l);
        for (int i = 0; i < BURST; i++)
            ExFreeToNPagedLookasideList(&l, Held[i]);
        USHORT d = lt_depth(&l.L);
        peak = d > peak ? d : peak;
    }
    ck_assert_msg(peak > 4, "depth stayed at 4 through %.0f ms of missing bursts", now_ms() - t0);
    ck_assert_uint_gt(lt_depth(&l.L), 4);
    SIZE_T used_busy = tag_used();
    /* Idle: back to 4 within ~26 passes (about 1.3 s); poll, with room for a slow machine. */
    t0 = now_ms();
    while (lt_depth(&l.L) != 4 && now_ms() - t0 < 10000) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(lt_depth(&l.L) == 4, "depth %u after %.0f ms idle", lt_depth(&l.L), now_ms() - t0);
    ck_assert_uint_le(QueryDepthSList(&l.L.ListHead), 4);
    ck_assert_uint_lt(tag_used(), used_busy);
    ntmem_set_lookaside_period(0);
    ExDeleteNPagedLookasideList(&l);
    ck_assert_uint_eq(tag_used(), 0);
}
END_TEST

/* ntmem_set_lookaside_period is an explicit request: the environment's default must not undo it when
 * the first list starts the balance set thread. */
START_TEST(period_zero_set_before_the_first_list_wins_over_the_environment)
{
    setenv("NTMEM_LOOKASIDE_PERIOD_MS", "20", 1);
    ntmem_set_lookaside_period(0);
    NPAGED_LOOKASIDE_LIST l;
    ExInitializeNPagedLookasideList(&l, NULL, NULL, 0, BLOCK, TAG_D, 0);
    double t0 = now_ms();
    while (now_ms() - t0 < 300) {
        for (int i = 0; i < BURST; i++)
            Held[i] = ExAllocateFromNPagedLookasideList(&l);
        for (int i = 0; i < BURST; i++)
            ExFreeToNPagedLookasideList(&l, Held[i]);
    }
    ck_assert_msg(lt_depth(&l.L) == 4, "depth moved to %u with the period set to 0", lt_depth(&l.L));
    ExDeleteNPagedLookasideList(&l);
}
END_TEST

static Suite *depth_suite(void)
{
    Suite *s = suite_create("lookaside_depth");
    TCase *t = tcase_create("passes");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, busy_missing_periods_raise_the_depth_to_the_maximum);
    tcase_add_test(t, busy_hitting_periods_lower_the_depth_by_one);
    tcase_add_test(t, idle_periods_lower_the_depth_by_ten_and_trim_to_pool);
    tcase_add_test(t, an_idle_list_never_goes_below_four);
    suite_add_tcase(s, t);

    t = tcase_create("thread");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, the_balance_set_thread_adapts_depth_on_its_own);
    tcase_add_test(t, period_zero_set_before_the_first_list_wins_over_the_environment);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    unsetenv("NTMEM_LOOKASIDE_PERIOD_MS"); /* the tests set the period themselves */
    SRunner *r = srunner_create(depth_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
