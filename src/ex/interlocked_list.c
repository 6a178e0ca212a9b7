/* interlocked_list.c - ExInterlocked*List: the checked list routines made atomic by a spin lock. */
#include "ke/ke.h"

/*
 * Microsoft documents these routines as callable at any IRQL - an ISR can share a list with its DPC
 * through them - and tells drivers to use their lock with ExInterlockedXxxList routines only. Windows
 * makes that work by disabling interrupts on the processor while it holds the lock, rather than by
 * raising to DISPATCH_LEVEL (which from device IRQL would be a lowering, STOP 0x09). ntmem has no
 * interrupts; the equivalent is to run the operation at HIGH_LEVEL and restore the caller's IRQL
 * afterwards. So a call at any level works, nothing can take the lock recursively unnoticed (a thread
 * already holding it gets STOP 0x0F), and list storage that is not resident fails as it must at that
 * level. The list checks of the inline routines (STOP 0x139, P1 3) run inside, under the lock.
 */
static inline KIRQL ExpAcquireListLock(PKSPIN_LOCK Lock)
{
    KIRQL OldIrql = KfRaiseIrql(HIGH_LEVEL);
    KeAcquireSpinLockAtDpcLevel(Lock);
    return OldIrql;
}

static inline VOID ExpReleaseListLock(PKSPIN_LOCK Lock, KIRQL OldIrql)
{
    KeReleaseSpinLockFromDpcLevel(Lock);
    KeLowerIrql(OldIrql);
}

PLIST_ENTRY FASTCALL ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    KIRQL OldIrql = ExpAcquireListLock(Lock);
    PLIST_ENTRY First = ListHead->Flink;
    InsertHeadList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, OldIrql);
    return First == ListHead ? NULL : First;
}

PLIST_ENTRY FASTCALL ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    KIRQL OldIrql = ExpAcquireListLock(Lock);
    PLIST_ENTRY Last = ListHead->Blink;
    InsertTailList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, OldIrql);
    return Last == ListHead ? NULL : Last;
}

PLIST_ENTRY FASTCALL ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    PLIST_ENTRY Entry = NULL;
    KIRQL OldIrql = ExpAcquireListLock(Lock);
    if (!IsListEmpty(ListHead))
        Entry = RemoveHeadList(ListHead);
    ExpReleaseListLock(Lock, OldIrql);
    return Entry;
}

PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                       PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    KIRQL OldIrql = ExpAcquireListLock(Lock);
    PSINGLE_LIST_ENTRY First = ListHead->Next;
    PushEntryList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, OldIrql);
    return First;
}

PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    KIRQL OldIrql = ExpAcquireListLock(Lock);
    PSINGLE_LIST_ENTRY Entry = PopEntryList(ListHead);
    ExpReleaseListLock(Lock, OldIrql);
    return Entry;
}
