/* test_slist.c - interlocked singly linked lists: order, return values, depth, sequence, misalignment. */
#include <check.h>
#include <stdalign.h>
#include <stdlib.h>
#include <wdm.h>

#include "death.h"

/* The SLIST_ENTRY first, the payload after it: a typical driver record. */
typedef struct _ITEM {
    SLIST_ENTRY Entry;
    ULONG Id;
} ITEM;

static ULONG item_id(PSLIST_ENTRY e)
{
    return CONTAINING_RECORD(e, ITEM, Entry)->Id;
}

static ULONGLONG sequence_of(const SLIST_HEADER *h)
{
    return h->HeaderX64.Sequence;
}

/* ---- layout ------------------------------------------------------------------------------------ */

START_TEST(layout_is_the_x64_one)
{
    static SLIST_HEADER Head;
    static ITEM Item;

    ck_assert_uint_eq(sizeof(SLIST_HEADER), 16);
    ck_assert_uint_eq(alignof(SLIST_HEADER), 16);
    ck_assert_uint_eq(sizeof(SLIST_ENTRY), 16);
    ck_assert_uint_eq(alignof(SLIST_ENTRY), 16);

    InitializeSListHead(&Head);
    ck_assert_uint_eq(Head.Alignment, 0);
    ck_assert_uint_eq(Head.Region, 0);
    InterlockedPushEntrySList(&Head, &Item.Entry);
    /* Depth in bits 0-15, Sequence above it; NextEntry is the address >> 4 in bits 68-127. */
    ck_assert_uint_eq(Head.HeaderX64.Depth, 1);
    ck_assert_uint_eq(Head.HeaderX64.NextEntry, (ULONG_PTR)&Item.Entry >> 4);
    ck_assert_uint_eq(Head.HeaderX64.Reserved, 0);
    ck_assert_uint_eq(Head.Alignment & 0xFFFF, 1);
    ck_assert_uint_eq(Head.Region, (ULONG_PTR)&Item.Entry);
}
END_TEST

/* ---- single-thread behaviour ------------------------------------------------------------------- */

START_TEST(empty_list)
{
    static SLIST_HEADER Head;

    InitializeSListHead(&Head);
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
    ck_assert_ptr_null(FirstEntrySList(&Head));
    ck_assert_ptr_null(InterlockedPopEntrySList(&Head));
    ck_assert_ptr_null(InterlockedFlushSList(&Head));
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
}
END_TEST

START_TEST(push_and_pop_are_lifo_with_documented_returns)
{
    static SLIST_HEADER Head;
    static ITEM Items[5];

    InitializeSListHead(&Head);
    for (ULONG i = 0; i < 5; i++) {
        Items[i].Id = i;
        /* Push returns the previous first entry: NULL for the first push. */
        PSLIST_ENTRY Prev = InterlockedPushEntrySList(&Head, &Items[i].Entry);
        ck_assert_ptr_eq(Prev, i == 0 ? NULL : &Items[i - 1].Entry);
        ck_assert_uint_eq(QueryDepthSList(&Head), i + 1);
        ck_assert_ptr_eq(FirstEntrySList(&Head), &Items[i].Entry);
    }
    /* FirstEntrySList only looks. */
    ck_assert_ptr_eq(FirstEntrySList(&Head), &Items[4].Entry);
    ck_assert_uint_eq(QueryDepthSList(&Head), 5);
    for (int i = 4; i >= 0; i--) {
        PSLIST_ENTRY e = InterlockedPopEntrySList(&Head);
        ck_assert_ptr_eq(e, &Items[i].Entry);
        ck_assert_uint_eq(item_id(e), (ULONG)i);
        ck_assert_uint_eq(QueryDepthSList(&Head), (USHORT)i);
        ck_assert_ptr_eq(FirstEntrySList(&Head), i == 0 ? NULL : &Items[i - 1].Entry);
    }
    ck_assert_ptr_null(InterlockedPopEntrySList(&Head));
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
}
END_TEST

START_TEST(sequence_changes_on_every_push_pop_and_flush)
{
    static SLIST_HEADER Head;
    static ITEM Items[3];

    InitializeSListHead(&Head);
    ULONGLONG Seq = sequence_of(&Head);
    for (int i = 0; i < 3; i++) {
        InterlockedPushEntrySList(&Head, &Items[i].Entry);
        ck_assert_uint_eq(sequence_of(&Head), ++Seq);
    }
    InterlockedPopEntrySList(&Head);
    ck_assert_uint_eq(sequence_of(&Head), ++Seq);
    InterlockedFlushSList(&Head);
    ck_assert_uint_eq(sequence_of(&Head), ++Seq);
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
}
END_TEST

/*
 * ABA, replayed on one thread: a pop that read the header {first A, next B} is overtaken by pops of A
 * and B and a push of A. The first entry is A again, but the header is not the one the stalled pop
 * read - so its compare-exchange (which this test plays with the same builtin) fails and the stale
 * Next (B, now gone) is never installed.
 */
__attribute__((target("cx16"))) static int stale_swap_succeeds(PSLIST_HEADER Head, SLIST_HEADER Stale,
                                                               SLIST_HEADER Bogus)
{
    unsigned __int128 Expected, New;
    memcpy(&Expected, &Stale, 16);
    memcpy(&New, &Bogus, 16);
    return __sync_val_compare_and_swap((unsigned __int128 *)Head, Expected, New) == Expected;
}

START_TEST(aba_replay_is_caught_by_the_sequence)
{
    static SLIST_HEADER Head;
    static ITEM A, B, C;

    InitializeSListHead(&Head);
    InterlockedPushEntrySList(&Head, &C.Entry);
    InterlockedPushEntrySList(&Head, &B.Entry);
    InterlockedPushEntrySList(&Head, &A.Entry);
    SLIST_HEADER Stale = Head; /* the stalled pop's snapshot: first A, whose Next is B */

    ck_assert_ptr_eq(InterlockedPopEntrySList(&Head), &A.Entry);
    ck_assert_ptr_eq(InterlockedPopEntrySList(&Head), &B.Entry);
    InterlockedPushEntrySList(&Head, &A.Entry);
    ck_assert_ptr_eq(FirstEntrySList(&Head), &A.Entry);
    ck_assert_uint_eq(Head.HeaderX64.Depth, Stale.HeaderX64.Depth - 1);

    /* What the stalled pop would now install: first B, depth 2. */
    SLIST_HEADER Bogus = Stale;
    Bogus.HeaderX64.NextEntry = (ULONG_PTR)&B.Entry >> 4;
    Bogus.HeaderX64.Depth = 2;
    ck_assert(!stale_swap_succeeds(&Head, Stale, Bogus));
    ck_assert_ptr_eq(InterlockedPopEntrySList(&Head), &A.Entry);
    ck_assert_ptr_eq(InterlockedPopEntrySList(&Head), &C.Entry);
    ck_assert_ptr_null(InterlockedPopEntrySList(&Head));
}
END_TEST

START_TEST(flush_returns_the_whole_chain_and_empties_the_list)
{
    static SLIST_HEADER Head;
    static ITEM Items[6];

    InitializeSListHead(&Head);
    for (ULONG i = 0; i < 6; i++) {
        Items[i].Id = i;
        InterlockedPushEntrySList(&Head, &Items[i].Entry);
    }
    PSLIST_ENTRY Chain = InterlockedFlushSList(&Head);
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
    ck_assert_ptr_null(FirstEntrySList(&Head));
    ck_assert_ptr_null(InterlockedPopEntrySList(&Head));

    /* The chain is intact and in LIFO order, ending in NULL. */
    ULONG Expect = 6;
    for (PSLIST_ENTRY e = Chain; e != NULL; e = e->Next)
        ck_assert_uint_eq(item_id(e), --Expect);
    ck_assert_uint_eq(Expect, 0);

    /* A flushed list is an ordinary empty list. */
    ck_assert_ptr_null(InterlockedPushEntrySList(&Head, &Items[0].Entry));
    ck_assert_uint_eq(QueryDepthSList(&Head), 1);
}
END_TEST

/* PushListSListEx and PushListSList: a chain Items[0] -> ... -> Items[3] goes in front in one step. */
typedef PSLIST_ENTRY (*push_list_fn)(PSLIST_HEADER, PSLIST_ENTRY, PSLIST_ENTRY, ULONG);
static const push_list_fn push_list_fns[] = {InterlockedPushListSListEx, InterlockedPushListSList};

START_TEST(push_list_links_a_chain_in_front)
{
    static SLIST_HEADER Head;
    static ITEM Items[4], Old;

    InitializeSListHead(&Head);
    for (ULONG i = 0; i < 4; i++) {
        Items[i].Id = i;
        /* ListEnd's Next is junk: the push must overwrite it with the old first entry. */
        Items[i].Entry.Next = i + 1 < 4 ? &Items[i + 1].Entry : (PSLIST_ENTRY)0x5A50;
    }
    Old.Id = 99;

    /* Onto an empty list: returns NULL. */
    ck_assert_ptr_null(push_list_fns[_i](&Head, &Items[0].Entry, &Items[3].Entry, 4));
    ck_assert_uint_eq(QueryDepthSList(&Head), 4);
    ck_assert_ptr_null(Items[3].Entry.Next);
    InterlockedFlushSList(&Head);

    /* Onto a non-empty list: returns the old first entry, which ends up after the chain. */
    InterlockedPushEntrySList(&Head, &Old.Entry);
    ck_assert_ptr_eq(push_list_fns[_i](&Head, &Items[0].Entry, &Items[3].Entry, 4), &Old.Entry);
    ck_assert_uint_eq(QueryDepthSList(&Head), 5);
    ck_assert_ptr_eq(FirstEntrySList(&Head), &Items[0].Entry);
    for (ULONG i = 0; i < 4; i++)
        ck_assert_uint_eq(item_id(InterlockedPopEntrySList(&Head)), i);
    ck_assert_uint_eq(item_id(InterlockedPopEntrySList(&Head)), 99);
    ck_assert_ptr_null(InterlockedPopEntrySList(&Head));
    ck_assert_uint_eq(QueryDepthSList(&Head), 0);
}
END_TEST

START_TEST(depth_wraps_at_65536_like_windows)
{
    enum { N = 65537 };
    static SLIST_HEADER Head;
    ITEM *Items = aligned_alloc(16, N * sizeof(ITEM));
    ck_assert_ptr_nonnull(Items);

    InitializeSListHead(&Head);
    for (ULONG i = 0; i < N; i++) {
        Items[i].Id = i;
        InterlockedPushEntrySList(&Head, &Items[i].Entry);
    }
    /* 65537 entries: the 16-bit Depth reads 1, and the Sequence took no carry from it. */
    ck_assert_uint_eq(QueryDepthSList(&Head), 1);
    ck_assert_uint_eq(sequence_of(&Head), N);
    InterlockedPopEntrySList(&Head);
    InterlockedPopEntrySList(&Head);
    ck_assert_uint_eq(QueryDepthSList(&Head), 0xFFFF);
    /* Every entry is still there, in order. */
    ULONG Popped = 2;
    for (PSLIST_ENTRY e; (e = InterlockedPopEntrySList(&Head)) != NULL; Popped++)
        ck_assert_uint_eq(item_id(e), N - 1 - Popped);
    ck_assert_uint_eq(Popped, N);
    free(Items);
}
END_TEST

START_TEST(executive_forms_ignore_the_lock)
{
    static SLIST_HEADER Head;
    static ITEM A, B;
    KSPIN_LOCK Lock;

    KeInitializeSpinLock(&Lock);
    InitializeSListHead(&Head);
    ck_assert_ptr_null(ExInterlockedPushEntrySList(&Head, &A.Entry, &Lock));
    ck_assert_ptr_eq(ExInterlockedPushEntrySList(&Head, &B.Entry, &Lock), &A.Entry);
    ck_assert_uint_eq(ExQueryDepthSList(&Head), 2);
    ck_assert_ptr_eq(ExInterlockedPopEntrySList(&Head, &Lock), &B.Entry);
    ck_assert_ptr_eq(ExInterlockedFlushSList(&Head), &A.Entry);
    ck_assert(KeTestSpinLock(&Lock));
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

/* ---- misalignment: STATUS_DATATYPE_MISALIGNMENT, unhandled -> STOP 0x1E ----------------------- */

static SLIST_HEADER DeathHead;
static struct {
    SLIST_ENTRY Aligned[4];
    char Pad[8];
} DeathItems;

static PSLIST_ENTRY misaligned_entry(void)
{
    return (PSLIST_ENTRY)((char *)&DeathItems.Aligned[1] + 8);
}

static void push_misaligned(void *arg)
{
    (void)arg;
    InitializeSListHead(&DeathHead);
    InterlockedPushEntrySList(&DeathHead, misaligned_entry());
}

static void push_list_misaligned_end(void *arg)
{
    (void)arg;
    InitializeSListHead(&DeathHead);
    DeathItems.Aligned[0].Next = misaligned_entry();
    InterlockedPushListSListEx(&DeathHead, &DeathItems.Aligned[0], misaligned_entry(), 2);
}

static void push_list_misaligned_first(void *arg)
{
    (void)arg;
    InitializeSListHead(&DeathHead);
    InterlockedPushListSList(&DeathHead, misaligned_entry(), &DeathItems.Aligned[0], 2);
}

/* A misaligned entry inside a pushed chain is caught by the pop that would make it first. */
static void pop_reaches_misaligned_chain_entry(void *arg)
{
    (void)arg;
    PSLIST_ENTRY Bad = misaligned_entry();
    PSLIST_ENTRY After = &DeathItems.Aligned[3];
    InitializeSListHead(&DeathHead);
    /* Aligned[0] -> Aligned[2] -> Bad -> Aligned[3]; Bad overlaps only the unused half of Aligned[1]. */
    DeathItems.Aligned[0].Next = &DeathItems.Aligned[2];
    DeathItems.Aligned[2].Next = Bad;
    memcpy(Bad, &After, sizeof After); /* Bad->Next, without a misaligned access in the test itself */
    InterlockedPushListSListEx(&DeathHead, &DeathItems.Aligned[0], &DeathItems.Aligned[3], 4);
    if (InterlockedPopEntrySList(&DeathHead) != &DeathItems.Aligned[0])
        return;
    fprintf(stderr, "[popping the entry whose Next is misaligned]\n");
    InterlockedPopEntrySList(&DeathHead);
}

static PSLIST_HEADER misaligned_header(void)
{
    static struct {
        SLIST_HEADER Head[2];
    } Space;
    return (PSLIST_HEADER)((char *)&Space.Head[0] + 8);
}

static void initialize_misaligned_header(void *arg)
{
    (void)arg;
    InitializeSListHead(misaligned_header());
}

static void pop_misaligned_header(void *arg)
{
    (void)arg;
    InterlockedPopEntrySList(misaligned_header());
}

static void flush_misaligned_header(void *arg)
{
    (void)arg;
    InterlockedFlushSList(misaligned_header());
}

static void push_onto_misaligned_header(void *arg)
{
    (void)arg;
    InterlockedPushEntrySList(misaligned_header(), &DeathItems.Aligned[0]);
}

static void (*const misalignments[])(void *) = {
    push_misaligned,         push_list_misaligned_end,     push_list_misaligned_first,
    initialize_misaligned_header, pop_misaligned_header,   flush_misaligned_header,
    push_onto_misaligned_header,
};

START_TEST(misalignment_raises_datatype_misalignment)
{
    ck_assert_bugcheck(misalignments[_i], NULL, KMODE_EXCEPTION_NOT_HANDLED,
                       (ULONG)STATUS_DATATYPE_MISALIGNMENT);
}
END_TEST

START_TEST(misaligned_chain_entry_is_caught_at_the_pop_that_reaches_it)
{
    static death_result r;

    death_run(pop_reaches_misaligned_chain_entry, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], (ULONG)STATUS_DATATYPE_MISALIGNMENT);
    ck_assert(r.aborted);
    /* The first pop (an aligned entry with an aligned Next) succeeded; the one that would have made
     * the misaligned entry first stopped. */
    ck_assert_msg(strstr(r.output, "[popping the entry whose Next is misaligned]") != NULL, "%s", r.output);
}
END_TEST

static Suite *slist_suite(void)
{
    Suite *s = suite_create("slist");
    TCase *t = tcase_create("behaviour");
    tcase_add_test(t, layout_is_the_x64_one);
    tcase_add_test(t, empty_list);
    tcase_add_test(t, push_and_pop_are_lifo_with_documented_returns);
    tcase_add_test(t, sequence_changes_on_every_push_pop_and_flush);
    tcase_add_test(t, aba_replay_is_caught_by_the_sequence);
    tcase_add_test(t, flush_returns_the_whole_chain_and_empties_the_list);
    tcase_add_loop_test(t, push_list_links_a_chain_in_front, 0,
                        (int)(sizeof push_list_fns / sizeof push_list_fns[0]));
    tcase_add_test(t, depth_wraps_at_65536_like_windows);
    tcase_add_test(t, executive_forms_ignore_the_lock);
    suite_add_tcase(s, t);

    t = tcase_create("misalignment");
    tcase_add_loop_test(t, misalignment_raises_datatype_misalignment, 0,
                        (int)(sizeof misalignments / sizeof misalignments[0]));
    tcase_add_test(t, misaligned_chain_entry_is_caught_at_the_pop_that_reaches_it);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(slist_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
