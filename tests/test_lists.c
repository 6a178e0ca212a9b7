/* test_lists.c - LIST_ENTRY and SINGLE_LIST_ENTRY routines, and the checked lists' 0x139 bug checks. */
#include <check.h>
#include <wdm.h>

#include "death.h"

typedef struct _MYDATASTRUCT {
    ULONG number;
    LIST_ENTRY ListEntry;
} MYDATASTRUCT, *PMYDATASTRUCT;

/* Walks the list both ways, checking every link pair, and writes the numbers in forward order. */
static int list_numbers(PLIST_ENTRY Head, ULONG *Out, int Max)
{
    int n = 0;
    for (PLIST_ENTRY e = Head->Flink; e != Head; e = e->Flink) {
        ck_assert_ptr_eq(e->Flink->Blink, e);
        ck_assert_ptr_eq(e->Blink->Flink, e);
        ck_assert_int_lt(n, Max);
        Out[n++] = CONTAINING_RECORD(e, MYDATASTRUCT, ListEntry)->number;
    }
    int back = 0;
    for (PLIST_ENTRY e = Head->Blink; e != Head; e = e->Blink)
        back++;
    ck_assert_int_eq(back, n);
    return n;
}

static void assert_numbers(PLIST_ENTRY Head, const ULONG *Expected, int Count)
{
    ULONG Got[64];
    int n = list_numbers(Head, Got, 64);
    ck_assert_int_eq(n, Count);
    for (int i = 0; i < Count; i++)
        ck_assert_uint_eq(Got[i], Expected[i]);
}

/* ---- the seed's LinkListTest, with a plain array instead of pool ------------------------------ */

START_TEST(link_list_test_from_the_seed)
{
    MYDATASTRUCT Items[10];
    LIST_ENTRY linkListHead;
    ULONG Removed[10];
    int n = 0;

    InitializeListHead(&linkListHead);
    ck_assert(IsListEmpty(&linkListHead));
    for (ULONG i = 0; i < 10; i++) {
        PMYDATASTRUCT pData = &Items[i];
        pData->number = i;
        InsertHeadList(&linkListHead, &pData->ListEntry);
    }
    ck_assert(!IsListEmpty(&linkListHead));
    while (!IsListEmpty(&linkListHead)) {
        PLIST_ENTRY pEntry = RemoveTailList(&linkListHead);
        PMYDATASTRUCT pData = CONTAINING_RECORD(pEntry, MYDATASTRUCT, ListEntry);
        ck_assert_ptr_eq(pData, &Items[pData->number]);
        Removed[n++] = pData->number;
    }
    /* Inserted at the head, removed from the tail: first in, first out. */
    ck_assert_int_eq(n, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(Removed[i], (ULONG)i);
}
END_TEST

/* ---- each operation --------------------------------------------------------------------------- */

static void fill(PLIST_ENTRY Head, MYDATASTRUCT *Items, int Count)
{
    InitializeListHead(Head);
    for (int i = 0; i < Count; i++) {
        Items[i].number = (ULONG)i;
        InsertTailList(Head, &Items[i].ListEntry);
    }
}

START_TEST(initialize_makes_an_empty_circle)
{
    LIST_ENTRY Head = {NULL, NULL};

    InitializeListHead(&Head);
    ck_assert_ptr_eq(Head.Flink, &Head);
    ck_assert_ptr_eq(Head.Blink, &Head);
    ck_assert(IsListEmpty(&Head));
}
END_TEST

START_TEST(insert_head_and_tail_order)
{
    LIST_ENTRY Head;
    MYDATASTRUCT Items[4];
    static const ULONG Expected[] = {3, 1, 0, 2};

    InitializeListHead(&Head);
    for (int i = 0; i < 4; i++)
        Items[i].number = (ULONG)i;
    InsertTailList(&Head, &Items[0].ListEntry);
    InsertHeadList(&Head, &Items[1].ListEntry);
    InsertTailList(&Head, &Items[2].ListEntry);
    InsertHeadList(&Head, &Items[3].ListEntry);
    assert_numbers(&Head, Expected, 4);
}
END_TEST

START_TEST(remove_head_and_tail_return_the_ends)
{
    LIST_ENTRY Head;
    MYDATASTRUCT Items[4];
    static const ULONG Expected[] = {1, 2};

    fill(&Head, Items, 4);
    ck_assert_ptr_eq(RemoveHeadList(&Head), &Items[0].ListEntry);
    ck_assert_ptr_eq(RemoveTailList(&Head), &Items[3].ListEntry);
    assert_numbers(&Head, Expected, 2);
    ck_assert_ptr_eq(RemoveHeadList(&Head), &Items[1].ListEntry);
    ck_assert_ptr_eq(RemoveTailList(&Head), &Items[2].ListEntry);
    ck_assert(IsListEmpty(&Head));
}
END_TEST

START_TEST(remove_entry_reports_whether_the_list_became_empty)
{
    LIST_ENTRY Head;
    MYDATASTRUCT Items[3];
    static const ULONG Expected[] = {0, 2};

    fill(&Head, Items, 3);
    ck_assert(!RemoveEntryList(&Items[1].ListEntry));
    assert_numbers(&Head, Expected, 2);
    ck_assert(!RemoveEntryList(&Items[0].ListEntry));
    ck_assert(RemoveEntryList(&Items[2].ListEntry));
    ck_assert(IsListEmpty(&Head));
}
END_TEST

START_TEST(append_tail_list_joins_a_headless_list)
{
    LIST_ENTRY Head, Other;
    MYDATASTRUCT Items[3], More[3];
    static const ULONG Expected[] = {0, 1, 2, 10, 11, 12};

    fill(&Head, Items, 3);
    fill(&Other, More, 3);
    for (int i = 0; i < 3; i++)
        More[i].number = 10 + (ULONG)i;
    /* Make More a headless circle: take Other's head out of it. */
    RemoveEntryList(&Other);
    AppendTailList(&Head, &More[0].ListEntry);
    assert_numbers(&Head, Expected, 6);
}
END_TEST

START_TEST(append_tail_list_to_an_empty_list)
{
    LIST_ENTRY Head;
    MYDATASTRUCT One = {.number = 7};
    static const ULONG Expected[] = {7};

    InitializeListHead(&Head);
    InitializeListHead(&One.ListEntry); /* a headless circle of one */
    AppendTailList(&Head, &One.ListEntry);
    assert_numbers(&Head, Expected, 1);
}
END_TEST

START_TEST(push_and_pop_entry_list_are_a_stack)
{
    SINGLE_LIST_ENTRY Head = {NULL};
    SINGLE_LIST_ENTRY Entries[5];

    ck_assert_ptr_null(PopEntryList(&Head));
    for (int i = 0; i < 5; i++)
        PushEntryList(&Head, &Entries[i]);
    ck_assert_ptr_eq(Head.Next, &Entries[4]);
    for (int i = 4; i >= 0; i--)
        ck_assert_ptr_eq(PopEntryList(&Head), &Entries[i]);
    ck_assert_ptr_null(PopEntryList(&Head));
    ck_assert_ptr_null(Head.Next);
}
END_TEST

/* ---- corruption: every checked routine ends in STOP 0x139 with P1 3 ---------------------------- */

static LIST_ENTRY DeathHead;
static MYDATASTRUCT DeathItems[3], Stranger;

static void death_fill(void)
{
    fill(&DeathHead, DeathItems, 3);
}

static __attribute__((noinline)) void double_remove_entry(void *arg)
{
    (void)arg;
    death_fill();
    RemoveEntryList(&DeathItems[1].ListEntry);
    RemoveEntryList(&DeathItems[1].ListEntry);
}

static __attribute__((noinline)) void remove_head_with_corrupt_first_entry(void *arg)
{
    (void)arg;
    death_fill();
    DeathItems[0].ListEntry.Blink = &Stranger.ListEntry;
    RemoveHeadList(&DeathHead);
}

static __attribute__((noinline)) void remove_head_with_corrupt_second_entry(void *arg)
{
    (void)arg;
    death_fill();
    DeathItems[1].ListEntry.Blink = &Stranger.ListEntry;
    RemoveHeadList(&DeathHead);
}

static __attribute__((noinline)) void remove_tail_with_corrupt_last_entry(void *arg)
{
    (void)arg;
    death_fill();
    DeathItems[2].ListEntry.Flink = &Stranger.ListEntry;
    RemoveTailList(&DeathHead);
}

static __attribute__((noinline)) void insert_head_with_corrupt_first_entry(void *arg)
{
    (void)arg;
    death_fill();
    DeathItems[0].ListEntry.Blink = &Stranger.ListEntry;
    InsertHeadList(&DeathHead, &Stranger.ListEntry);
}

static __attribute__((noinline)) void insert_tail_with_corrupt_last_entry(void *arg)
{
    (void)arg;
    death_fill();
    DeathItems[2].ListEntry.Flink = &Stranger.ListEntry;
    InsertTailList(&DeathHead, &Stranger.ListEntry);
}

static __attribute__((noinline)) void append_with_corrupt_head(void *arg)
{
    (void)arg;
    death_fill();
    InitializeListHead(&Stranger.ListEntry);
    DeathItems[2].ListEntry.Flink = &DeathItems[0].ListEntry; /* the tail no longer leads home */
    AppendTailList(&DeathHead, &Stranger.ListEntry);
}

typedef struct corruption {
    void (*fn)(void *);
    const char *name;
} corruption;

static const corruption corruptions[] = {
    {double_remove_entry, "RemoveEntryList twice"},
    {remove_head_with_corrupt_first_entry, "RemoveHeadList, first entry's Blink"},
    {remove_head_with_corrupt_second_entry, "RemoveHeadList, second entry's Blink"},
    {remove_tail_with_corrupt_last_entry, "RemoveTailList, last entry's Flink"},
    {insert_head_with_corrupt_first_entry, "InsertHeadList, first entry's Blink"},
    {insert_tail_with_corrupt_last_entry, "InsertTailList, last entry's Flink"},
    {append_with_corrupt_head, "AppendTailList, tail's Flink"},
};

START_TEST(corrupt_list_entry_is_kernel_security_check_failure)
{
    const corruption *c = &corruptions[_i];
    static death_result r;

    death_run(c->fn, NULL, &r);
    ck_assert_msg(r.parsed, "%s: no STOP:\n%s", c->name, r.output);
    ck_assert_msg(r.code == 0x139 && r.p[0] == 3, "%s: STOP 0x%X P1 0x%llX", c->name, r.code, r.p[0]);
    ck_assert_uint_eq(r.p[1], 0);
    ck_assert_uint_eq(r.p[2], 0);
    ck_assert_uint_eq(r.p[3], 0);
    ck_assert_msg(strstr(r.output, "KERNEL_SECURITY_CHECK_FAILURE\ncorrupt LIST_ENTRY") != NULL, "%s",
                  r.output);
    ck_assert_msg(r.aborted, "%s: no SIGABRT", c->name);
    ck_assert_bugcheck(c->fn, NULL, KERNEL_SECURITY_CHECK_FAILURE, FAST_FAIL_CORRUPT_LIST_ENTRY);
}
END_TEST

START_TEST(fatal_list_entry_error_names_the_entries)
{
    static death_result r;
    char expected[128];

    death_run(double_remove_entry, NULL, &r);
    /* RemoveEntryList reports Blink, the entry, Flink; after the first removal those are 0 and 2. */
    snprintf(expected, sizeof expected, "%p %p %p\n", (void *)&DeathItems[0].ListEntry,
             (void *)&DeathItems[1].ListEntry, (void *)&DeathItems[2].ListEntry);
    ck_assert_msg(strstr(r.output, expected) != NULL, "wanted %s in:\n%s", expected, r.output);
}
END_TEST

static Suite *lists_suite(void)
{
    Suite *s = suite_create("lists");
    TCase *t = tcase_create("doubly linked");
    tcase_add_test(t, link_list_test_from_the_seed);
    tcase_add_test(t, initialize_makes_an_empty_circle);
    tcase_add_test(t, insert_head_and_tail_order);
    tcase_add_test(t, remove_head_and_tail_return_the_ends);
    tcase_add_test(t, remove_entry_reports_whether_the_list_became_empty);
    tcase_add_test(t, append_tail_list_joins_a_headless_list);
    tcase_add_test(t, append_tail_list_to_an_empty_list);
    suite_add_tcase(s, t);

    t = tcase_create("singly linked");
    tcase_add_test(t, push_and_pop_entry_list_are_a_stack);
    suite_add_tcase(s, t);

    t = tcase_create("corruption");
    tcase_add_loop_test(t, corrupt_list_entry_is_kernel_security_check_failure, 0,
                        (int)(sizeof corruptions / sizeof corruptions[0]));
    tcase_add_test(t, fatal_list_entry_error_names_the_entries);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(lists_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
