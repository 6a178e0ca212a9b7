/* test_interlocked_list.c - ExInterlocked*List: documented returns, any IRQL, the lock, corrupt lists. */
#include <check.h>
#include <ntmem.h>
#include <wdm.h>

#include "death.h"

typedef struct _ITEM {
    ULONG Id;
    LIST_ENTRY Link;
    SINGLE_LIST_ENTRY Single;
} ITEM;

static ULONG link_id(PLIST_ENTRY e)
{
    return CONTAINING_RECORD(e, ITEM, Link)->Id;
}

static ULONG single_id(PSINGLE_LIST_ENTRY e)
{
    return CONTAINING_RECORD(e, ITEM, Single)->Id;
}

/* Walks the list forward, checking each link pair, and returns the ids in order. */
static int ids_of(PLIST_ENTRY Head, ULONG *Out, int Max)
{
    int n = 0;
    for (PLIST_ENTRY e = Head->Flink; e != Head; e = e->Flink) {
        ck_assert_ptr_eq(e->Flink->Blink, e);
        ck_assert_int_lt(n, Max);
        Out[n++] = link_id(e);
    }
    return n;
}

static KSPIN_LOCK Lock;

/* After every call: the lock is free again and the caller's IRQL is back. */
#define ck_assert_released(irql)                          \
    do {                                                  \
        ck_assert(KeTestSpinLock(&Lock));                 \
        ck_assert_uint_eq(KeGetCurrentIrql(), (irql));    \
    } while (0)

/* ---- return values and order ------------------------------------------------------------------- */

START_TEST(insert_head_returns_the_previous_first_entry)
{
    static ITEM Items[3];
    LIST_ENTRY Head;
    ULONG Ids[4];

    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Head);
    for (ULONG i = 0; i < 3; i++) {
        Items[i].Id = i;
        PLIST_ENTRY Prev = ExInterlockedInsertHeadList(&Head, &Items[i].Link, &Lock);
        ck_assert_ptr_eq(Prev, i == 0 ? NULL : &Items[i - 1].Link);
        ck_assert_released(PASSIVE_LEVEL);
    }
    ck_assert_int_eq(ids_of(&Head, Ids, 4), 3);
    ck_assert_uint_eq(Ids[0], 2);
    ck_assert_uint_eq(Ids[1], 1);
    ck_assert_uint_eq(Ids[2], 0);
}
END_TEST

START_TEST(insert_tail_returns_the_previous_last_entry)
{
    static ITEM Items[3];
    LIST_ENTRY Head;
    ULONG Ids[4];

    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Head);
    /* From the third insert on, the previous last (Items[i - 1]) differs from the previous
       first (Items[0]), so returning the wrong end of the list fails here. */
    for (ULONG i = 0; i < 3; i++) {
        Items[i].Id = i;
        PLIST_ENTRY Prev = ExInterlockedInsertTailList(&Head, &Items[i].Link, &Lock);
        ck_assert_ptr_eq(Prev, i == 0 ? NULL : &Items[i - 1].Link);
        ck_assert_released(PASSIVE_LEVEL);
    }
    ck_assert_int_eq(ids_of(&Head, Ids, 4), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(Ids[i], (ULONG)i);
}
END_TEST

START_TEST(remove_head_returns_entries_in_order_then_null)
{
    static ITEM Items[3];
    LIST_ENTRY Head;

    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Head);
    ck_assert_ptr_null(ExInterlockedRemoveHeadList(&Head, &Lock));
    ck_assert_released(PASSIVE_LEVEL);
    ck_assert(IsListEmpty(&Head));
    for (ULONG i = 0; i < 3; i++) {
        Items[i].Id = i;
        ExInterlockedInsertTailList(&Head, &Items[i].Link, &Lock);
    }
    for (ULONG i = 0; i < 3; i++) {
        PLIST_ENTRY e = ExInterlockedRemoveHeadList(&Head, &Lock);
        ck_assert_ptr_eq(e, &Items[i].Link);
        ck_assert_released(PASSIVE_LEVEL);
    }
    ck_assert_ptr_null(ExInterlockedRemoveHeadList(&Head, &Lock));
    ck_assert(IsListEmpty(&Head));
    ck_assert_ptr_eq(Head.Blink, &Head);
}
END_TEST

START_TEST(push_and_pop_entry_list_are_a_stack)
{
    static ITEM Items[3];
    SINGLE_LIST_ENTRY Head = {NULL};

    KeInitializeSpinLock(&Lock);
    ck_assert_ptr_null(ExInterlockedPopEntryList(&Head, &Lock));
    ck_assert_released(PASSIVE_LEVEL);
    for (ULONG i = 0; i < 3; i++) {
        Items[i].Id = i;
        PSINGLE_LIST_ENTRY Prev = ExInterlockedPushEntryList(&Head, &Items[i].Single, &Lock);
        ck_assert_ptr_eq(Prev, i == 0 ? NULL : &Items[i - 1].Single);
        ck_assert_released(PASSIVE_LEVEL);
    }
    for (int i = 2; i >= 0; i--) {
        PSINGLE_LIST_ENTRY e = ExInterlockedPopEntryList(&Head, &Lock);
        ck_assert_ptr_eq(e, &Items[i].Single);
        ck_assert_uint_eq(single_id(e), (ULONG)i);
        ck_assert_released(PASSIVE_LEVEL);
    }
    ck_assert_ptr_null(ExInterlockedPopEntryList(&Head, &Lock));
    ck_assert_ptr_null(Head.Next);
}
END_TEST

/* ---- any IRQL ---------------------------------------------------------------------------------- */

/* Documented as callable at any IRQL (an ISR shares a list with its DPC through them): every routine
 * works from PASSIVE_LEVEL up to HIGH_LEVEL and leaves the caller at its own level. */
static const KIRQL levels[] = {PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, 5, CLOCK_LEVEL, HIGH_LEVEL};

START_TEST(every_routine_works_at_any_irql_and_restores_it)
{
    static ITEM Items[2];
    LIST_ENTRY Head;
    SINGLE_LIST_ENTRY SHead = {NULL};
    KIRQL Old, At = levels[_i];

    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Head);
    KeRaiseIrql(At, &Old);

    ck_assert_ptr_null(ExInterlockedInsertHeadList(&Head, &Items[0].Link, &Lock));
    ck_assert_released(At);
    ck_assert_ptr_eq(ExInterlockedInsertTailList(&Head, &Items[1].Link, &Lock), &Items[0].Link);
    ck_assert_released(At);
    ck_assert_ptr_eq(ExInterlockedRemoveHeadList(&Head, &Lock), &Items[0].Link);
    ck_assert_released(At);
    ck_assert_ptr_null(ExInterlockedPushEntryList(&SHead, &Items[0].Single, &Lock));
    ck_assert_released(At);
    ck_assert_ptr_eq(ExInterlockedPopEntryList(&SHead, &Lock), &Items[0].Single);
    ck_assert_released(At);

    KeLowerIrql(Old);
    ck_assert_released(PASSIVE_LEVEL);
}
END_TEST

/* ---- inside the routine: observed from a bug-check hook on a corrupt list ---------------------- */

static VOID report_state_inside(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    (void)Code, (void)P1, (void)P2, (void)P3, (void)P4;
    /* Still inside the routine: the hook runs before the report, so it sees the lock and IRQL. */
    fprintf(stderr, "[inside: irql=%u lock=%s]\n", (unsigned)KeGetCurrentIrql(),
            KeTestSpinLock(&Lock) ? "free" : "held");
}

static ITEM CorruptItems[3];
static LIST_ENTRY CorruptHead;

/* A list of two whose second entry's Blink no longer points back at the first. */
static void corrupt_list(void)
{
    KeInitializeSpinLock(&Lock);
    InitializeListHead(&CorruptHead);
    InsertTailList(&CorruptHead, &CorruptItems[0].Link);
    InsertTailList(&CorruptHead, &CorruptItems[1].Link);
    CorruptItems[1].Link.Blink = &CorruptItems[2].Link;
    CorruptHead.Flink->Blink = &CorruptItems[2].Link; /* the first entry's back link is wrong too */
    ntmem_set_bugcheck_hook(report_state_inside);
}

static void corrupt_insert_head(void *arg)
{
    (void)arg;
    corrupt_list();
    ExInterlockedInsertHeadList(&CorruptHead, &CorruptItems[2].Link, &Lock);
}

static void corrupt_insert_tail(void *arg)
{
    (void)arg;
    corrupt_list();
    CorruptHead.Blink->Flink = &CorruptItems[2].Link; /* the last entry no longer leads back */
    ExInterlockedInsertTailList(&CorruptHead, &CorruptItems[2].Link, &Lock);
}

static void corrupt_remove_head(void *arg)
{
    (void)arg;
    corrupt_list();
    ExInterlockedRemoveHeadList(&CorruptHead, &Lock);
}

static void (*const corruptions[])(void *) = {corrupt_insert_head, corrupt_insert_tail, corrupt_remove_head};

START_TEST(corrupt_list_is_kernel_security_check_failure_under_the_lock)
{
    static death_result r;

    death_run(corruptions[_i], NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KERNEL_SECURITY_CHECK_FAILURE);
    ck_assert_uint_eq(r.p[0], FAST_FAIL_CORRUPT_LIST_ENTRY);
    ck_assert(r.aborted);
    /* The check ran with the lock held and interrupts (in ntmem: everything below HIGH_LEVEL) off. */
    ck_assert_msg(strstr(r.output, "[inside: irql=15 lock=held]") != NULL, "%s", r.output);
}
END_TEST

/* ---- the lock ---------------------------------------------------------------------------------- */

static void insert_while_holding_the_lock(void *arg)
{
    static ITEM Item;
    LIST_ENTRY Head;
    KIRQL Old;
    (void)arg;
    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Head);
    KeAcquireSpinLock(&Lock, &Old);
    ExInterlockedInsertTailList(&Head, &Item.Link, &Lock);
}

START_TEST(taking_the_lock_twice_is_spin_lock_already_owned)
{
    /* On Windows this spins forever; ntmem knows the owner and stops with the lock's address. */
    ck_assert_bugcheck(insert_while_holding_the_lock, NULL, SPIN_LOCK_ALREADY_OWNED, (ULONG_PTR)&Lock);
}
END_TEST

static Suite *interlocked_list_suite(void)
{
    Suite *s = suite_create("interlocked_list");
    TCase *t = tcase_create("behaviour");
    tcase_add_test(t, insert_head_returns_the_previous_first_entry);
    tcase_add_test(t, insert_tail_returns_the_previous_last_entry);
    tcase_add_test(t, remove_head_returns_entries_in_order_then_null);
    tcase_add_test(t, push_and_pop_entry_list_are_a_stack);
    tcase_add_loop_test(t, every_routine_works_at_any_irql_and_restores_it, 0,
                        (int)(sizeof levels / sizeof levels[0]));
    suite_add_tcase(s, t);

    t = tcase_create("misuse");
    tcase_add_loop_test(t, corrupt_list_is_kernel_security_check_failure_under_the_lock, 0,
                        (int)(sizeof corruptions / sizeof corruptions[0]));
    tcase_add_test(t, taking_the_lock_twice_is_spin_lock_already_owned);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(interlocked_list_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
