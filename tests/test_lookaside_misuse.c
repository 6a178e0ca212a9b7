/* test_lookaside_misuse.c - lookaside misuse: verifier stops 0xC4/0xCA-0xCD, IRQL 0x0A, and what is safe. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "lookasidetest.h"
#include "pooltest.h"

#define TAG_M 'usiM' /* "Misu" */

/* The list under test lives at a fixed address so the parent knows P1/P2 before the child runs. */
static lt_list List;

static death_result Dr;

/* Runs fn(kind) in a child; asserts the STOP code and parameters (P3/P4 only when asked). */
static void expect_stop(void (*fn)(void *), enum lt_kind k, unsigned code, ULONG_PTR p1, ULONG_PTR p2, int check_p34,
                        ULONG_PTR p3, ULONG_PTR p4)
{
    death_run(fn, (void *)(ULONG_PTR)k, &Dr);
    ck_assert_msg(Dr.parsed, "%s: no STOP report; child wrote:\n%s", lt_kind_names[k], Dr.output);
    ck_assert_msg(Dr.code == code, "%s: STOP 0x%08X, expected 0x%08X\n%s", lt_kind_names[k], Dr.code, code, Dr.output);
    ck_assert_msg(Dr.p[0] == p1, "%s: P1 0x%llX, expected 0x%llX\n%s", lt_kind_names[k], Dr.p[0],
                  (unsigned long long)p1, Dr.output);
    ck_assert_msg(Dr.p[1] == p2, "%s: P2 0x%llX, expected 0x%llX\n%s", lt_kind_names[k], Dr.p[1],
                  (unsigned long long)p2, Dr.output);
    if (check_p34) {
        ck_assert_msg(Dr.p[2] == p3, "P3 0x%llX, expected 0x%llX", Dr.p[2], (unsigned long long)p3);
        ck_assert_msg(Dr.p[3] == p4, "P4 0x%llX, expected 0x%llX", Dr.p[3], (unsigned long long)p4);
    }
    ck_assert_msg(Dr.aborted, "child did not die by SIGABRT (status 0x%x)", Dr.status);
    ck_assert_msg(strstr(Dr.output, code == 0xC4 ? "DRIVER_VERIFIER_DETECTED_VIOLATION" : "IRQL_NOT_LESS_OR_EQUAL"),
                  "no symbolic name:\n%s", Dr.output);
}

/* Runs fn(kind) in a child and asserts that it returned normally. */
static void expect_survival(void (*fn)(void *), enum lt_kind k)
{
    death_run(fn, (void *)(ULONG_PTR)k, &Dr);
    ck_assert_msg(WIFEXITED(Dr.status) && WEXITSTATUS(Dr.status) == 0, "%s: child died (status 0x%x):\n%s",
                  lt_kind_names[k], Dr.status, Dr.output);
    ck_assert_msg(!Dr.parsed, "%s: unexpected STOP:\n%s", lt_kind_names[k], Dr.output);
}

static void verifier_on(void)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_POOL_TRACKING);
}

/* ---- with the verifier ------------------------------------------------------------------------- */

static void init_twice(void *arg)
{
    verifier_on();
    lt_init(&List, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    lt_init(&List, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
}

START_TEST(verifier_reinitialising_a_registered_list_is_0xCA)
{
    expect_stop(init_twice, (enum lt_kind)_i, 0xC4, 0xCA, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

/* Any verifier switch turns the checks on, not only pool tracking. */
static void init_twice_irql_checking(void *arg)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    PVOID p = lt_alloc(l);
    lt_free(l, p);
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
}

START_TEST(any_verifier_switch_enables_the_checks)
{
    expect_stop(init_twice_irql_checking, (enum lt_kind)_i, 0xC4, 0xCA, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

static void delete_uninitialised(void *arg)
{
    verifier_on();
    memset(&List, 0, sizeof List);
    List.kind = (enum lt_kind)(ULONG_PTR)arg;
    lt_delete(&List);
}

START_TEST(verifier_deleting_an_uninitialised_list_is_0xCB)
{
    expect_stop(delete_uninitialised, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

static void delete_twice(void *arg)
{
    verifier_on();
    lt_init(&List, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    lt_delete(&List);
    lt_delete(&List);
}

START_TEST(verifier_deleting_twice_is_0xCB)
{
    expect_stop(delete_twice, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

static SIZE_T SmallSize;

static void init_too_small(void *arg)
{
    verifier_on();
    lt_init(&List, (enum lt_kind)(ULONG_PTR)arg, SmallSize, TAG_M);
}

START_TEST(verifier_too_small_a_block_is_0xCD)
{
    static const SIZE_T sizes[] = {0, 1, 4, 7};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        SmallSize = sizes[s];
        expect_stop(init_too_small, (enum lt_kind)_i, 0xC4, 0xCD, (ULONG_PTR)lt_address(&List), 0, 0, 0);
        ck_assert_uint_eq(Dr.p[1], (ULONG_PTR)lt_address(&List)); /* P2 is the list itself */
        ck_assert_uint_eq(Dr.p[2], sizes[s]);
        ck_assert_uint_eq(Dr.p[3], LOOKASIDE_MINIMUM_BLOCK_SIZE);
        ck_assert_uint_eq(LOOKASIDE_MINIMUM_BLOCK_SIZE, 8);
    }
}
END_TEST

static void verifier_use_is_fine(void *arg)
{
    verifier_on();
    lt_list *l = &List;
    for (int round = 0; round < 3; round++) {
        lt_init(l, (enum lt_kind)(ULONG_PTR)arg, LOOKASIDE_MINIMUM_BLOCK_SIZE, TAG_M);
        PVOID p[20];
        for (int i = 0; i < 20; i++)
            p[i] = lt_alloc(l);
        for (int i = 0; i < 20; i++)
            lt_free(l, p[i]);
        if (lt_is_ex(l->kind))
            ExFlushLookasideListEx(&l->u.ex);
        lt_delete(l);
    }
}

START_TEST(verifier_correct_use_passes)
{
    expect_survival(verifier_use_is_fine, (enum lt_kind)_i);
}
END_TEST

/* ---- always, verifier or not -------------------------------------------------------------------- */

static void allocate_uninitialised(void *arg)
{
    memset(&List, 0, sizeof List);
    List.kind = (enum lt_kind)(ULONG_PTR)arg;
    PVOID p = lt_alloc(&List);
    fprintf(stderr, "allocation from a zeroed list returned %p\n", p);
}

START_TEST(allocating_from_an_uninitialised_list_is_0xCB)
{
    expect_stop(allocate_uninitialised, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

static void free_to_uninitialised(void *arg)
{
    enum lt_kind k = (enum lt_kind)(ULONG_PTR)arg;
    PVOID p = ExAllocatePoolWithTag(lt_pool(k), 32, TAG_M);
    memset(&List, 0, sizeof List);
    List.kind = k;
    lt_free(&List, p);
    fprintf(stderr, "free to a zeroed list returned\n");
}

START_TEST(freeing_to_an_uninitialised_list_is_0xCB)
{
    expect_stop(free_to_uninitialised, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

/* A deleted list is not a list any more, even where this thread's cache once served it. */
static void allocate_after_delete(void *arg)
{
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    PVOID p = lt_alloc(l);
    lt_free(l, p);
    lt_delete(l);
    p = lt_alloc(l);
    fprintf(stderr, "allocation from a deleted list returned %p\n", p);
}

START_TEST(allocating_from_a_deleted_list_is_0xCB)
{
    expect_stop(allocate_after_delete, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

static void free_after_delete(void *arg)
{
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    PVOID p = lt_alloc(l), q = lt_alloc(l);
    lt_free(l, p);
    lt_delete(l);
    lt_free(l, q);
    fprintf(stderr, "free to a deleted list returned\n");
}

START_TEST(freeing_to_a_deleted_list_is_0xCB)
{
    expect_stop(free_after_delete, (enum lt_kind)_i, 0xC4, 0xCB, (ULONG_PTR)lt_address(&List), 0, 0, 0);
}
END_TEST

/* ---- IRQL -------------------------------------------------------------------------------------- */

static KIRQL RaiseTo;

static void allocate_at_irql(void *arg)
{
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    PVOID warm = lt_alloc(l); /* the cache is bound and holds a block: the fast path is tried */
    lt_free(l, warm);
    KIRQL old;
    KeRaiseIrql(RaiseTo, &old);
    PVOID p = lt_alloc(l);
    KeLowerIrql(old);
    fprintf(stderr, "allocation at IRQL %u returned %p\n", RaiseTo, p);
}

static void free_at_irql(void *arg)
{
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    PVOID p = lt_alloc(l);
    KIRQL old;
    KeRaiseIrql(RaiseTo, &old);
    lt_free(l, p);
    KeLowerIrql(old);
    fprintf(stderr, "free at IRQL %u returned\n", RaiseTo);
}

static void allocate_cold_at_irql(void *arg)
{
    lt_list *l = &List;
    lt_init(l, (enum lt_kind)(ULONG_PTR)arg, 32, TAG_M);
    KIRQL old;
    KeRaiseIrql(RaiseTo, &old); /* first use of the list on this thread */
    PVOID p = lt_alloc(l);
    KeLowerIrql(old);
    fprintf(stderr, "allocation at IRQL %u returned %p\n", RaiseTo, p);
}

START_TEST(paged_lists_above_apc_level_are_0x0A)
{
    enum lt_kind k = _i ? LT_EX_PAGED : LT_PAGED;
    RaiseTo = DISPATCH_LEVEL;
    expect_stop(allocate_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), DISPATCH_LEVEL, 0, 0, 0);
    ck_assert_uint_eq(Dr.p[2], 0); /* read */
    expect_stop(allocate_cold_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), DISPATCH_LEVEL, 0, 0, 0);
    expect_stop(free_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), DISPATCH_LEVEL, 0, 0, 0);
    ck_assert_uint_eq(Dr.p[2], 1); /* write */
}
END_TEST

START_TEST(nonpaged_lists_above_dispatch_level_are_0x0A)
{
    enum lt_kind k = _i ? LT_EX_NONPAGED : LT_NPAGED;
    RaiseTo = HIGH_LEVEL;
    expect_stop(allocate_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), HIGH_LEVEL, 0, 0, 0);
    expect_stop(free_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), HIGH_LEVEL, 0, 0, 0);
    RaiseTo = DISPATCH_LEVEL + 1;
    expect_stop(allocate_cold_at_irql, k, 0x0A, (ULONG_PTR)lt_address(&List), DISPATCH_LEVEL + 1, 0, 0, 0);
}
END_TEST

static void session_paged_at_dispatch(void *arg)
{
    (void)arg;
    LOOKASIDE_LIST_EX *x = &List.u.ex;
    ExInitializeLookasideListEx(x, NULL, NULL, PagedPoolSession, 0, 32, TAG_M, 0);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PVOID p = ExAllocateFromLookasideListEx(x);
    fprintf(stderr, "allocation returned %p\n", p);
}

START_TEST(a_paged_session_ex_list_at_dispatch_is_0x0A)
{
    expect_stop(session_paged_at_dispatch, LT_EX_PAGED, 0x0A, (ULONG_PTR)lt_address(&List), DISPATCH_LEVEL, 0, 0, 0);
}
END_TEST

/* Nonpaged lists at DISPATCH_LEVEL: hits, misses, overflow to pool, all fine. Paged at APC_LEVEL too. */
static void use_at_highest_allowed_irql(void *arg)
{
    enum lt_kind k = (enum lt_kind)(ULONG_PTR)arg;
    lt_list *l = &List;
    lt_init(l, k, 32, TAG_M);
    KIRQL old;
    KeRaiseIrql(lt_pool(k) == PagedPool ? APC_LEVEL : DISPATCH_LEVEL, &old);
    PVOID p[50];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 50; i++) {
            p[i] = lt_alloc(l);
            if (p[i] == NULL)
                abort();
            memset(p[i], i, 32);
        }
        for (int i = 0; i < 50; i++)
            lt_free(l, p[i]);
    }
    KeLowerIrql(old);
    lt_delete(l);
}

START_TEST(each_list_works_at_its_highest_irql)
{
    expect_survival(use_at_highest_allowed_irql, (enum lt_kind)_i);
}
END_TEST

/* ---- without the verifier: safe ------------------------------------------------------------------ */

static ULONG tag_used_blocks_bytes(POOL_TYPE pool)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(TAG_M, &t);
    return (ULONG)(pool == PagedPool ? t.PagedUsed : t.NonPagedUsed);
}

START_TEST(reinitialising_without_the_verifier_drops_the_old_list)
{
    enum lt_kind k = (enum lt_kind)_i;
    POOL_TYPE pool = lt_pool(k);
    ck_assert_uint_eq(ntmem_get_verifier_flags(), 0);
    ntmem_set_lookaside_period(0);
    ULONG before = lt_registered();
    lt_init(&List, k, 64, TAG_M);
    PVOID p[10];
    for (int i = 0; i < 10; i++)
        p[i] = lt_alloc(&List);
    PVOID out = p[9];
    for (int i = 0; i < 9; i++)
        lt_free(&List, p[i]);
    ck_assert_uint_gt(lt_must_info(lt_address(&List)).HeldBlocks, 0);
    lt_init(&List, k, 64, TAG_M); /* again, without deleting */
    ck_assert_uint_eq(lt_registered(), before + 1);
    NTMEM_LOOKASIDE_INFO i = lt_must_info(lt_address(&List));
    ck_assert_uint_eq(i.HeldBlocks, 0);
    ck_assert_uint_eq(i.TotalAllocates, 0);
    /* the old held blocks went back to pool; the one still out is a pool block of the tag */
    ck_assert_uint_eq(tag_used_blocks_bytes(pool), pt_small_block_bytes(64));
    ExFreePool(out);
    ck_assert_uint_eq(tag_used_blocks_bytes(pool), 0);
    /* and the list works */
    for (int r = 0; r < 3; r++) {
        for (int j = 0; j < 10; j++)
            p[j] = lt_alloc(&List);
        for (int j = 0; j < 10; j++)
            lt_free(&List, p[j]);
    }
    ck_assert_uint_eq(lt_must_info(lt_address(&List)).TotalAllocates, 30);
    lt_delete(&List);
    ck_assert_uint_eq(tag_used_blocks_bytes(pool), 0);
    ck_assert_uint_eq(lt_registered(), before);
}
END_TEST

/* The old registration's blocks belong to its routines: they go to the old Free routine. */
static ULONG OldFrees, OldAllocates;

static PVOID NTAPI old_allocate(POOL_TYPE type, SIZE_T bytes, ULONG tag)
{
    OldAllocates++;
    return ExAllocatePoolWithTag(type, bytes, tag);
}

static VOID NTAPI old_free(PVOID p)
{
    OldFrees++;
    ExFreePool(p);
}

START_TEST(reinitialising_frees_the_old_blocks_with_the_old_routine)
{
    NPAGED_LOOKASIDE_LIST *n = &List.u.np;
    ntmem_set_lookaside_period(0);
    ExInitializeNPagedLookasideList(n, old_allocate, old_free, 0, 64, TAG_M, 0);
    PVOID p[6];
    for (int i = 0; i < 6; i++)
        p[i] = ExAllocateFromNPagedLookasideList(n);
    for (int i = 0; i < 6; i++)
        ExFreeToNPagedLookasideList(n, p[i]);
    ULONG64 held = lt_must_info(n).HeldBlocks;
    ck_assert_uint_eq(OldFrees + held, 6);
    ExInitializeNPagedLookasideList(n, NULL, NULL, 0, 64, TAG_M, 0);
    ck_assert_uint_eq(OldFrees, 6);
    ck_assert_uint_eq(tag_used_blocks_bytes(NonPagedPool), 0);
    ExDeleteNPagedLookasideList(n);
}
END_TEST

START_TEST(deleting_twice_without_the_verifier_is_a_no_op)
{
    enum lt_kind k = (enum lt_kind)_i;
    ULONG before = lt_registered();
    lt_init(&List, k, 64, TAG_M);
    PVOID p = lt_alloc(&List);
    lt_free(&List, p);
    lt_delete(&List);
    lt_delete(&List);
    ck_assert_uint_eq(lt_registered(), before);
    ck_assert_uint_eq(tag_used_blocks_bytes(lt_pool(k)), 0);
    /* an uninitialised list, too */
    lt_list zero;
    memset(&zero, 0, sizeof zero);
    zero.kind = k;
    lt_delete(&zero);
    if (lt_is_ex(k))
        ExFlushLookasideListEx(&zero.u.ex);
    ck_assert_uint_eq(lt_registered(), before);
}
END_TEST

START_TEST(too_small_a_size_is_rounded_up_to_8_without_the_verifier)
{
    enum lt_kind k = (enum lt_kind)_i;
    static const SIZE_T sizes[] = {0, 1, 7};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        lt_init(&List, k, sizes[s], TAG_M);
        ck_assert_uint_eq(lt_general(&List)->Size, 8);
        ck_assert_uint_eq(lt_must_info(lt_address(&List)).Size, 8);
        PVOID p[10];
        for (int i = 0; i < 10; i++) {
            p[i] = lt_alloc(&List);
            ck_assert_ptr_nonnull(p[i]);
            ck_assert_uint_ge(ExQueryPoolBlockSize(p[i], NULL), 8);
            memset(p[i], 0x11 * (i + 1), 8);
        }
        for (int i = 0; i < 10; i++)
            for (int b = 0; b < 8; b++)
                ck_assert_uint_eq(((unsigned char *)p[i])[b], (unsigned char)(0x11 * (i + 1)));
        for (int i = 0; i < 10; i++)
            lt_free(&List, p[i]);
        lt_delete(&List);
    }
    ck_assert_uint_eq(tag_used_blocks_bytes(lt_pool(k)), 0);
}
END_TEST

static Suite *misuse_suite(void)
{
    Suite *s = suite_create("lookaside_misuse");
    TCase *t = tcase_create("verifier");
    tcase_add_loop_test(t, verifier_reinitialising_a_registered_list_is_0xCA, 0, LT_KINDS);
    tcase_add_loop_test(t, any_verifier_switch_enables_the_checks, 0, LT_KINDS);
    tcase_add_loop_test(t, verifier_deleting_an_uninitialised_list_is_0xCB, 0, LT_KINDS);
    tcase_add_loop_test(t, verifier_deleting_twice_is_0xCB, 0, LT_KINDS);
    tcase_add_loop_test(t, verifier_too_small_a_block_is_0xCD, 0, LT_KINDS);
    tcase_add_loop_test(t, verifier_correct_use_passes, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("uninitialised");
    tcase_add_loop_test(t, allocating_from_an_uninitialised_list_is_0xCB, 0, LT_KINDS);
    tcase_add_loop_test(t, freeing_to_an_uninitialised_list_is_0xCB, 0, LT_KINDS);
    tcase_add_loop_test(t, allocating_from_a_deleted_list_is_0xCB, 0, LT_KINDS);
    tcase_add_loop_test(t, freeing_to_a_deleted_list_is_0xCB, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("irql");
    tcase_add_loop_test(t, paged_lists_above_apc_level_are_0x0A, 0, 2);
    tcase_add_loop_test(t, nonpaged_lists_above_dispatch_level_are_0x0A, 0, 2);
    tcase_add_test(t, a_paged_session_ex_list_at_dispatch_is_0x0A);
    tcase_add_loop_test(t, each_list_works_at_its_highest_irql, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("safe");
    tcase_add_loop_test(t, reinitialising_without_the_verifier_drops_the_old_list, 0, LT_KINDS);
    tcase_add_test(t, reinitialising_frees_the_old_blocks_with_the_old_routine);
    tcase_add_loop_test(t, deleting_twice_without_the_verifier_is_a_no_op, 0, LT_KINDS);
    tcase_add_loop_test(t, too_small_a_size_is_rounded_up_to_8_without_the_verifier, 0, LT_KINDS);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    unsetenv("NTMEM_VERIFIER"); /* the tests switch the verifier themselves */
    SRunner *r = srunner_create(misuse_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
