/* slist.c - interlocked singly linked lists: lock-free, ABA-safe pushes and pops on the x64 SLIST_HEADER. */
#include "ke/ke.h"

#if !defined(__x86_64__)
#error "slist.c implements the x64 SLIST_HEADER, which needs a 16-byte compare-exchange (cmpxchg16b)"
#endif

/*
 * The header is two quadwords changed only as a whole, by one cmpxchg16b:
 *   low:  Depth (bits 0-15), Sequence (bits 16-63)
 *   high: Reserved (bits 0-3, always 0), NextEntry (bits 4-63) - so the high quadword with its low
 *         four bits cleared is the first entry's address, which is why entries are 16-byte aligned.
 * Every push, pop and flush increments Sequence. That is what makes the lists ABA-safe: a pop reads
 * the first entry's Next, then swaps the header only if it is bit-for-bit the one it read; if other
 * threads popped that entry and pushed it back meanwhile, the address is the same but the sequence
 * is not, so the stale Next is never installed. 48 bits of sequence do not wrap in practice.
 *
 * Depth is 16 bits, as in Windows' x64 layout, and wraps the same way: pushing the 65536th entry
 * makes QueryDepthSList report 0 (the list itself is intact and pops still return every entry),
 * and a pop at a wrapped depth of 0 makes it 65535. Depth is advisory; emptiness is NextEntry == 0.
 *
 * GCC compiles a 16-byte __atomic operation into a call to libatomic, which may take a lock; the
 * legacy __sync builtin on unsigned __int128 with cx16 enabled is an inline lock cmpxchg16b and is
 * still seen by ThreadSanitizer as an atomic read-modify-write (so the hand-over of an entry's
 * contents from pusher to popper is a happens-before edge).
 */
#define EXP_SLIST_CX16 __attribute__((target("cx16")))

#define EXP_DEPTH_MASK 0xFFFFull
#define EXP_SEQUENCE_ONE 0x10000ull
#define EXP_ENTRY_ALIGN_MASK 15ull

typedef unsigned __int128 EXP_SLIST_WORD;

/* Two 8-byte atomic loads, not one 16-byte read: a torn snapshot is harmless, because the
 * compare-exchange that follows fails on it and returns the real header to retry with. Acquire on
 * the half holding the first entry, so that entry's Next, written before it was pushed, is visible. */
static inline EXP_SLIST_WORD ExpReadHeader(const SLIST_HEADER *ListHead)
{
    ULONGLONG Low = __atomic_load_n(&ListHead->Alignment, __ATOMIC_RELAXED);
    ULONGLONG High = __atomic_load_n(&ListHead->Region, __ATOMIC_ACQUIRE);
    return ((EXP_SLIST_WORD)High << 64) | Low;
}

static inline PSLIST_ENTRY ExpFirstEntry(EXP_SLIST_WORD Header)
{
    return (PSLIST_ENTRY)(ULONG_PTR)((ULONGLONG)(Header >> 64) & ~EXP_ENTRY_ALIGN_MASK);
}

/* A new header from the old one: Depth changed by Delta modulo 2^16 (no carry into Sequence),
 * Sequence plus one, First the new first entry. */
static inline EXP_SLIST_WORD ExpNextHeader(EXP_SLIST_WORD Old, ULONGLONG Delta, PSLIST_ENTRY First)
{
    ULONGLONG Low = (ULONGLONG)Old;
    Low = ((Low & ~EXP_DEPTH_MASK) + EXP_SEQUENCE_ONE) | ((Low + Delta) & EXP_DEPTH_MASK);
    return ((EXP_SLIST_WORD)(ULONG_PTR)First << 64) | Low;
}

/* Returns the header the compare-exchange found: equal to Expected exactly when it succeeded. */
EXP_SLIST_CX16 static inline EXP_SLIST_WORD ExpSwapHeader(PSLIST_HEADER ListHead, EXP_SLIST_WORD Expected,
                                                          EXP_SLIST_WORD New)
{
    return __sync_val_compare_and_swap((EXP_SLIST_WORD *)ListHead, Expected, New);
}

/*
 * A pop reads Next of the entry it saw first, and may lose the race for it: by then another thread
 * may own the entry and be writing its payload over Next, or have freed it. The value is used only if
 * the header proves unchanged, so the read is benign by design - but ThreadSanitizer would call it a
 * race with the new owner's plain writes, and AddressSanitizer a use after free of a freed block. In
 * sanitized builds the read is therefore kept out of their sight (a volatile load in an
 * uninstrumented function); elsewhere it is a relaxed atomic load, which costs a plain mov.
 */
#ifdef NTMEM_SANITIZED
__attribute__((noinline, no_sanitize_address, no_sanitize_thread)) static PSLIST_ENTRY
ExpReadNext(PSLIST_ENTRY Entry)
{
    return *(PSLIST_ENTRY volatile *)&Entry->Next;
}
#else
static inline PSLIST_ENTRY ExpReadNext(PSLIST_ENTRY Entry)
{
    return __atomic_load_n(&Entry->Next, __ATOMIC_RELAXED);
}
#endif

/*
 * Entries and headers must be 16-byte aligned: the header has no room for an address's low four bits.
 * Windows documents misalignment as unpredictable; ntmem rejects it as an alignment fault the caller
 * cannot miss, STATUS_DATATYPE_MISALIGNMENT (unhandled: STOP 0x1E), instead of silently linking an
 * address rounded down to someone else's memory.
 */
#define EXP_MISALIGNED(a) NTMEM_UNLIKELY(((ULONG_PTR)(a) & EXP_ENTRY_ALIGN_MASK) != 0)

/* Links First..Last (Count entries, already chained) in front of the list in one compare-exchange. */
EXP_SLIST_CX16 static inline PSLIST_ENTRY ExpPushChain(PSLIST_HEADER ListHead, PSLIST_ENTRY First,
                                                       PSLIST_ENTRY Last, ULONG Count)
{
    if (EXP_MISALIGNED((ULONG_PTR)ListHead | (ULONG_PTR)First | (ULONG_PTR)Last))
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);

    EXP_SLIST_WORD Old = ExpReadHeader(ListHead);
    for (;;) {
        PSLIST_ENTRY Top = ExpFirstEntry(Old);
        /* Atomic because a losing popper may be reading this field right now (see ExpReadNext). */
        __atomic_store_n(&Last->Next, Top, __ATOMIC_RELAXED);
        EXP_SLIST_WORD Seen = ExpSwapHeader(ListHead, Old, ExpNextHeader(Old, Count, First));
        if (Seen == Old)
            return Top;
        Old = Seen;
    }
}

VOID NTAPI InitializeSListHead(PSLIST_HEADER SListHead)
{
    if (EXP_MISALIGNED(SListHead))
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
    __atomic_store_n(&SListHead->Alignment, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&SListHead->Region, 0, __ATOMIC_RELEASE);
}

PSLIST_ENTRY NTAPI FirstEntrySList(const SLIST_HEADER *SListHead)
{
    /* A snapshot: by the time the caller looks, the entry may have been popped. */
    return ExpFirstEntry(ExpReadHeader(SListHead));
}

USHORT NTAPI QueryDepthSList(PSLIST_HEADER ListHead)
{
    return (USHORT)(__atomic_load_n(&ListHead->Alignment, __ATOMIC_RELAXED) & EXP_DEPTH_MASK);
}

EXP_SLIST_CX16 PSLIST_ENTRY NTAPI InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry)
{
    return ExpPushChain(ListHead, ListEntry, ListEntry, 1);
}

EXP_SLIST_CX16 PSLIST_ENTRY NTAPI InterlockedPushListSListEx(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                             PSLIST_ENTRY ListEnd, ULONG Count)
{
    /* Count is trusted, as in Windows: Depth grows by Count (modulo 2^16), however long the chain is. */
    return ExpPushChain(ListHead, List, ListEnd, Count);
}

EXP_SLIST_CX16 PSLIST_ENTRY NTAPI InterlockedPushListSList(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                           PSLIST_ENTRY ListEnd, ULONG Count)
{
    return ExpPushChain(ListHead, List, ListEnd, Count);
}

/*
 * Next may also be misaligned because a caller chained a misaligned entry into a list pushed with
 * InterlockedPushListSListEx, or wrote over an entry still on the list. That is reported only once
 * a compare-exchange of the header with itself proves the header was not changed since it was read:
 * otherwise the odd value is just a losing pop seeing another owner's data, and the pop retries.
 */
EXP_SLIST_CX16 __attribute__((noinline, cold)) static EXP_SLIST_WORD
ExpConfirmMisalignedNext(PSLIST_HEADER ListHead, EXP_SLIST_WORD Old)
{
    EXP_SLIST_WORD Seen = ExpSwapHeader(ListHead, Old, Old);
    if (Seen == Old)
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
    return Seen;
}

EXP_SLIST_CX16 PSLIST_ENTRY NTAPI InterlockedPopEntrySList(PSLIST_HEADER ListHead)
{
    if (EXP_MISALIGNED(ListHead))
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);

    EXP_SLIST_WORD Old = ExpReadHeader(ListHead);
    for (;;) {
        PSLIST_ENTRY Top = ExpFirstEntry(Old);
        if (Top == NULL)
            return NULL;
        PSLIST_ENTRY Next = ExpReadNext(Top);
        if (EXP_MISALIGNED(Next)) {
            Old = ExpConfirmMisalignedNext(ListHead, Old);
            continue;
        }
        EXP_SLIST_WORD Seen = ExpSwapHeader(ListHead, Old, ExpNextHeader(Old, (ULONGLONG)-1, Next));
        if (Seen == Old)
            return Top;
        Old = Seen;
    }
}

EXP_SLIST_CX16 PSLIST_ENTRY NTAPI InterlockedFlushSList(PSLIST_HEADER ListHead)
{
    if (EXP_MISALIGNED(ListHead))
        ExRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);

    EXP_SLIST_WORD Old = ExpReadHeader(ListHead);
    for (;;) {
        PSLIST_ENTRY Top = ExpFirstEntry(Old);
        if (Top == NULL)
            return NULL;
        /* Depth to 0 and Sequence plus one; the chain itself is handed over untouched. */
        EXP_SLIST_WORD New = ((ULONGLONG)Old & ~EXP_DEPTH_MASK) + EXP_SEQUENCE_ONE;
        EXP_SLIST_WORD Seen = ExpSwapHeader(ListHead, Old, New);
        if (Seen == Old)
            return Top;
        Old = Seen;
    }
}
