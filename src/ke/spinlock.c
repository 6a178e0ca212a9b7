/* spinlock.c - executive spin locks with owner tracking: recursion and foreign release bug check. */
#include "ke/ke.h"

#include <sched.h>


/*
 * The lock word is 0 when free and, when held, the owning thread's marker: the address of its
 * KiThread with bit 0 set. KiThread is at least pointer-aligned, so the marker is never 0 and is
 * unique among live threads. Knowing the owner turns the two classic misuses into bug checks (as a
 * checked kernel does) instead of a silent hang or a corrupted lock.
 */
static inline ULONG_PTR KipOwnerMarker(VOID)
{
    return (ULONG_PTR)&KiThread | 1;
}

#if defined(__x86_64__) || defined(__i386__)
#define KIP_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define KIP_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define KIP_CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

/*
 * A Windows thread at DISPATCH_LEVEL cannot be preempted, so its lock holder is always running.
 * Host threads can be descheduled while holding a lock; after a burst of pauses the waiter gives its
 * time slice away so the holder (possibly on the same CPU) can finish.
 */
#define KIP_SPINS_BEFORE_YIELD 1024

static inline BOOLEAN KipTryAcquire(PKSPIN_LOCK SpinLock, ULONG_PTR Marker)
{
    ULONG_PTR Expected = 0;
    return __atomic_compare_exchange_n(SpinLock, &Expected, Marker, FALSE, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* Test-and-test-and-set: spin on plain loads so waiters share the line instead of bouncing it. */
static void KipAcquire(PKSPIN_LOCK SpinLock)
{
    ULONG_PTR Marker = KipOwnerMarker();
    unsigned Spins = 0;

    for (;;) {
        ULONG_PTR Word = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
        if (Word == 0) {
            if (KipTryAcquire(SpinLock, Marker))
                return;
            continue;
        }
        /* Only this thread ever stores its own marker, so seeing it is proof, not a race. */
        if (NTMEM_UNLIKELY(Word == Marker))
            KiBugCheckWithReason(SPIN_LOCK_ALREADY_OWNED, (ULONG_PTR)SpinLock, 0, 0, 0,
                                 "this thread acquired spin lock %p that it already holds; the "
                                 "acquisition would spin forever",
                                 (void *)SpinLock);
        if (++Spins % KIP_SPINS_BEFORE_YIELD == 0)
            sched_yield();
        else
            KIP_CPU_RELAX();
    }
}

static void KipRelease(PKSPIN_LOCK SpinLock)
{
    ULONG_PTR Word = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);

    if (NTMEM_UNLIKELY(Word != KipOwnerMarker()))
        KiBugCheckWithReason(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)SpinLock, 0, 0, 0,
                             "this thread released spin lock %p that it does not hold (%s)",
                             (void *)SpinLock,
                             Word == 0 ? "the lock is free: double release?" : "another thread holds it");
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELAXED);
}

KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    /* Raise first, as Windows does: a caller above DISPATCH_LEVEL is caught here (STOP 0x09). */
    KIRQL OldIrql = KfRaiseIrql(DISPATCH_LEVEL);
    KipAcquire(SpinLock);
    return OldIrql;
}

VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KipRelease(SpinLock);
    KeLowerIrql(NewIrql);
}

VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    KipAcquire(SpinLock);
}

VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    KipRelease(SpinLock);
}

BOOLEAN FASTCALL KeTestSpinLock(PKSPIN_LOCK SpinLock)
{
    /* TRUE means "looks free": a hint for a spin loop before it tries again, never a guarantee. */
    return (BOOLEAN)(__atomic_load_n(SpinLock, __ATOMIC_RELAXED) == 0);
}

BOOLEAN FASTCALL KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    /*
     * A try on a lock the caller already holds fails like any try on a held lock: the routine's
     * contract is "FALSE if the lock is held", and it cannot hang. The bug-check path relies on
     * this to take its callback lock without risking a second bug check.
     */
    if (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != 0)
        return FALSE;
    return KipTryAcquire(SpinLock, KipOwnerMarker());
}
