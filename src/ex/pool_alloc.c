/* pool_alloc.c - the ExAllocatePool* entry points: request decoding, IRQL rules, quotas, failures. */
#include "ex/pool.h"
#include "vf/vf.h"
#include "ex/track.h"

#define EXP_TAG_NONE 'enoN' /* what ExAllocatePool and ExAllocatePoolWithQuota tag blocks with */

/* How one request must be served, decoded from a POOL_TYPE or from POOL_FLAGS. */
enum {
    EXP_ZERO = 0x01,          /* zero the bytes returned */
    EXP_RAISE = 0x02,         /* raise STATUS_INSUFFICIENT_RESOURCES when the pool cannot serve it */
    EXP_QUOTA = 0x04,         /* charge the current process's quota */
    EXP_QUOTA_RAISE = 0x08,   /* raise STATUS_QUOTA_EXCEEDED when the quota is exceeded */
    EXP_CACHE_ALIGN = 0x10,   /* align to the cache line */
    EXP_ANY_IRQL_OK = 0x20
};

static DECLSPEC_NORETURN void ExpBadIrqlAllocate(KIRQL irql, ULONG type, SIZE_T bytes)
{
    KiBugCheckWithReason(BAD_POOL_CALLER, 8, irql, type, bytes,
                         "%s pool allocated at IRQL %u; it may be allocated at %s or below",
                         ExpPoolIndex(type) ? "paged" : "nonpaged", irql,
                         ExpPoolIndex(type) ? "APC_LEVEL" : "DISPATCH_LEVEL");
}

/* Pops a cached block of Units, refilling the cache from the descriptor when it is empty. */
static inline PVOID ExpTakeCached(EXP_POOL_THREAD *t, ULONG pool, ULONG units, ULONG limit_percent)
{
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    PVOID p = bin->Head;
    if (NTMEM_LIKELY(p != NULL)) {
        ExpTrackInternal(p, sizeof(PVOID));
        bin->Head = *(PVOID *)p;
        bin->Room++;
        return p;
    }
    return ExpRefillBin(t, pool, units, limit_percent);
}

/* Gives a block straight back without counting it (a quota charge failed after allocation). */
static void ExpUndoSmall(PVOID p)
{
    PPOOL_HEADER h = ExpHeaderOf(p);
    h->PoolType = 0;
    ExpTrackInternal(p, sizeof(PVOID));
    *(PVOID *)p = NULL;
    ExpTrackInternalDone(p, sizeof(PVOID));
    ExpReturnBlocks(&ExpPoolDescriptors[h->PoolIndex & 1], p);
}

/* True when a low- or normal-priority request should fail because the pool is nearly full. */
static BOOLEAN ExpOverPriorityLimit(ULONG pool, SIZE_T bytes, ULONG limit_percent)
{
    if (limit_percent >= 100)
        return FALSE;
    const MI_REGION *r = &MiSystemSpace.Regions[pool ? MiPagedPoolRegion : MiNonPagedPoolRegion];
    SIZE_T committed = __atomic_load_n(&r->CommittedPages, __ATOMIC_RELAXED);
    SIZE_T limit = __atomic_load_n(&r->LimitPages, __ATOMIC_RELAXED) * limit_percent / 100;
    return committed + BYTES_TO_PAGES(bytes) > limit;
}

static DECLSPEC_NORETURN void ExpMustSucceedFailed(SIZE_T bytes)
{
    const MI_REGION *r = &MiSystemSpace.Regions[MiNonPagedPoolRegion];
    KiBugCheckWithReason(MUST_SUCCEED_POOL_EMPTY, bytes, r->CommittedPages, r->BigAllocations,
                         r->LimitPages - r->CommittedPages,
                         "a NonPagedPoolMustSucceed request for %zu bytes could not be met", (size_t)bytes);
}

/*
 * The one allocation path behind every entry point. Type is a POOL_TYPE (modifier bits allowed),
 * How the EXP_* flags, LimitPercent the share of the pool's limit this request may use.
 */
static PVOID ExpAllocate(ULONG type, SIZE_T bytes, ULONG tag, ULONG how, ULONG limit_percent)
{
    ULONG base = type & 7;
    ULONG pool = ExpPoolIndex(base);
    if (base == DontUseThisType || base == MaxPoolType)
        goto fail;
    KIRQL irql = KiThread.Irql;
    if (NTMEM_UNLIKELY(irql > (pool ? APC_LEVEL : DISPATCH_LEVEL)))
        ExpBadIrqlAllocate(irql, type, bytes);
    if (base & 4)
        how |= EXP_CACHE_ALIGN;
    if (ExpOverPriorityLimit(pool, bytes, limit_percent))
        goto fail;

    if (NTMEM_UNLIKELY(bytes == 0) && VfIsEnabled())
        KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x00, irql, type, 0,
                             "Driver Verifier: a zero-byte pool allocation (tag '%.4s')", (const char *)&tag);
    if (NTMEM_UNLIKELY((base & ~4u) == NonPagedPoolMustSucceed) && bytes > PAGE_SIZE && VfIsEnabled())
        KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x03, irql, type, bytes,
                             "Driver Verifier: a must-succeed request for %zu bytes; one page is the most that "
                             "may be asked for", (size_t)bytes);
    if (NTMEM_UNLIKELY(VfPoolSlowPath) && (VfCountRequest(), VfInjectFailure()))
        goto fail; /* Driver Verifier's low resources simulation, or the fail sweep's chosen request */
    EXP_POOL_THREAD *t = ExpCurrentPoolThread();
    if (NTMEM_UNLIKELY(VfSpecialPoolOn) && !(how & (EXP_QUOTA | EXP_CACHE_ALIGN))) {
        /* Driver Verifier's special pool, for the requests it selects; the others go on below. */
        PVOID special = VfSpecialPoolAllocate(type, bytes, tag);
        if (special != NULL) {
            ExpCountAlloc(t, tag, pool, PAGE_SIZE);
            if (how & EXP_ZERO)
                memset(special, 0, bytes);
            VfTrackAllocation(special, bytes, tag, pool);
            return special;
        }
    }
    PEPROCESS process = (how & EXP_QUOTA) ? PsGetCurrentProcess() : NULL;
    SIZE_T size;
    PVOID p;
    ULONG units = ExpUnitsFor(bytes);
    BOOLEAN small = bytes <= EXP_MAX_SMALL_BYTES &&
                    (!(how & EXP_CACHE_ALIGN) || units + (SYSTEM_CACHE_ALIGNMENT_SIZE >> EXP_BLOCK_SHIFT) + 1 <= EXP_MAX_SMALL_UNITS);
    if (small) {
        if (how & EXP_CACHE_ALIGN)
            p = ExpAllocateAlignedBlock(&ExpPoolDescriptors[pool], units, SYSTEM_CACHE_ALIGNMENT_SIZE, limit_percent);
        else if (units <= EXP_CACHE_MAX_UNITS)
            p = ExpTakeCached(t, pool, units, limit_percent);
        else if (ExpTakeBlocks(&ExpPoolDescriptors[pool], units, 1, &p, limit_percent) == 0)
            p = NULL;
        if (p == NULL)
            goto fail;
        PPOOL_HEADER h = ExpHeaderOf(p);
        size = (SIZE_T)h->BlockSize << EXP_BLOCK_SHIFT;
        if (process != NULL && !NT_SUCCESS(PspChargePoolQuota(process, pool, size))) {
            ExpUndoSmall(p);
            goto quota_fail;
        }
        h->PoolType = (UCHAR)((base + 1) | (process ? EXP_POOL_QUOTA : 0));
        h->PoolTag = tag;
        h->ProcessBilled = process;
        ExpTrackAlloc(p, bytes, size - sizeof(POOL_HEADER));
    } else {
        p = ExpAllocateBig(pool, base, bytes, tag, limit_percent);
        if (p == NULL)
            goto fail;
        size = ROUND_TO_PAGES(bytes);
        if (process != NULL) {
            if (!NT_SUCCESS(PspChargePoolQuota(process, pool, size))) {
                ExpFreeBig(p, tag, TRUE, pool);
                goto quota_fail;
            }
            ExpMarkBigQuota(p, process);
        }
        ExpTrackAlloc(p, bytes, size);
    }
    ExpCountAlloc(t, tag, pool, size);
    if (how & EXP_ZERO)
        memset(p, 0, bytes);
    if (NTMEM_UNLIKELY(VfPoolSlowPath))
        VfTrackAllocation(p, bytes, tag, pool); /* pool attributed to drivers */
    return p;

quota_fail:
    if (how & EXP_QUOTA_RAISE)
        ExRaiseStatus(STATUS_QUOTA_EXCEEDED);
    return NULL;
fail:
    if (base == NonPagedPoolMustSucceed || base == NonPagedPoolCacheAlignedMustS)
        ExpMustSucceedFailed(bytes);
    if (how & EXP_RAISE)
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
    return NULL;
}

static ULONG ExpHowFromType(ULONG type)
{
    ULONG how = 0;
    if (type & POOL_ZERO_ALLOCATION)
        how |= EXP_ZERO;
    if (type & POOL_RAISE_IF_ALLOCATION_FAILURE)
        how |= EXP_RAISE;
    return how;
}

/* Tags are tracked without PROTECTED_POOL, so a tag that is only that bit counts as 0 too. */
static inline BOOLEAN ExpIsZeroTag(ULONG tag)
{
    return (tag & ~PROTECTED_POOL) == 0;
}

static DECLSPEC_NORETURN void ExpZeroTag(ULONG type, SIZE_T bytes, PVOID caller)
{
    KiBugCheckWithReason(BAD_POOL_CALLER, 0x9B, type, bytes, (ULONG_PTR)caller,
                         "pool allocated with a tag of 0, which no tool could track; pick a four-letter tag");
}

/* Everything ExAllocatePoolWithTag's fast path does not: zero tags, odd types, refills. */
static __attribute__((noinline)) PVOID ExpAllocateWithTagSlow(POOL_TYPE type, SIZE_T bytes, ULONG tag, PVOID caller)
{
    if (ExpIsZeroTag(tag))
        ExpZeroTag(type, bytes, caller);
    return ExpAllocate(type, bytes, tag, ExpHowFromType(type), 100);
}

static __attribute__((noinline)) PVOID ExpSwitchAndCount(EXP_POOL_THREAD *t, ULONG tag, ULONG pool, ULONG units, PVOID p)
{
    if (tag == EXP_NO_TAG) {
        ExpCountAlloc(t, tag, pool, (SIZE_T)units << EXP_BLOCK_SHIFT);
        return p;
    }
    ExpSwitchBinTag(t, units, pool, tag);
    ExpCounterAdd(&t->Bins[units][pool].Allocs, 1);
    return p;
}

NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T bytes, ULONG tag)
{
    /* The common case: a plain paged or nonpaged request served from this thread's cache, with
     * only tail calls so that it needs no stack frame. */
    KI_THREAD *kt = &KiThread;
    EXP_POOL_THREAD *t = kt->PoolFast;
    ULONG pool = (ULONG)type;
    /* tag << 1 drops PROTECTED_POOL: a tag that is only that bit is no tag either. */
    /* bytes - 1 wraps for 0, so zero-byte requests take the slow path (the verifier reports them). */
    if (NTMEM_UNLIKELY(pool > PagedPool || (ULONG)(tag << 1) == 0 ||
                       bytes - 1 >= EXP_CACHE_MAX_UNITS * EXP_BLOCK_UNIT - sizeof(POOL_HEADER) ||
                       t == NULL || kt->Irql + pool > DISPATCH_LEVEL || VfPoolSlowPath))
        return ExpAllocateWithTagSlow(type, bytes, tag, __builtin_return_address(0));
    ULONG units = ExpUnitsFor(bytes);
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    PVOID p = bin->Head;
    if (NTMEM_UNLIKELY(p == NULL))
        return ExpAllocateWithTagSlow(type, bytes, tag, __builtin_return_address(0));
    bin->Head = *(PVOID *)p;
    bin->Room++;
    PPOOL_HEADER h = ExpHeaderOf(p);
    h->PoolType = (UCHAR)(pool + 1);
    h->PoolTag = tag;
    if (NTMEM_UNLIKELY(bin->Tag != tag))
        return ExpSwitchAndCount(t, tag, pool, units, p);
    ExpCounterAdd(&bin->Allocs, 1);
    return p;
}

NTKERNELAPI PVOID NTAPI ExAllocatePool(POOL_TYPE type, SIZE_T bytes)
{
    return ExpAllocate(type, bytes, EXP_TAG_NONE, ExpHowFromType(type), 100);
}

NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE type, SIZE_T bytes, ULONG tag)
{
    if (ExpIsZeroTag(tag))
        ExpZeroTag(type, bytes, __builtin_return_address(0));
    ULONG how = ExpHowFromType(type) | EXP_QUOTA;
    if (!(type & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE))
        how |= EXP_RAISE | EXP_QUOTA_RAISE;
    return ExpAllocate(type, bytes, tag, how, 100);
}

NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuota(POOL_TYPE type, SIZE_T bytes)
{
    ULONG how = ExpHowFromType(type) | EXP_QUOTA;
    if (!(type & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE))
        how |= EXP_RAISE | EXP_QUOTA_RAISE;
    return ExpAllocate(type, bytes, EXP_TAG_NONE, how, 100);
}

/* Low priority gives up at 80% of the pool's limit, normal at 90%, high only when it is full. */
static ULONG ExpLimitForPriority(EX_POOL_PRIORITY priority)
{
    ULONG level = (ULONG)priority & ~0xFu;
    return level >= HighPoolPriority ? 100 : level >= NormalPoolPriority ? 90 : 80;
}

NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE type, SIZE_T bytes, ULONG tag,
                                                      EX_POOL_PRIORITY priority)
{
    if (ExpIsZeroTag(tag))
        ExpZeroTag(type, bytes, __builtin_return_address(0));
    return ExpAllocate(type, bytes, tag, ExpHowFromType(type), ExpLimitForPriority(priority));
}

/* ---- ExAllocatePool2 / ExAllocatePool3 -------------------------------------------------------- */

#define EXP_KNOWN_REQUIRED_FLAGS                                                                    \
    (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION | POOL_FLAG_CACHE_ALIGNED |  \
     POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED)
#define EXP_POOL_KIND_FLAGS (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED)

/* Decodes POOL_FLAGS: every required (low 32) bit must be known and exactly one pool kind given;
 * optional (high 32) bits may be ignored, as the documentation allows. */
static BOOLEAN ExpDecodeFlags(POOL_FLAGS flags, ULONG *type, ULONG *how)
{
    POOL_FLAGS required = flags & 0xFFFFFFFFULL;
    if (required & ~EXP_KNOWN_REQUIRED_FLAGS)
        return FALSE;
    if (__builtin_popcountll(required & EXP_POOL_KIND_FLAGS) != 1)
        return FALSE;
    *type = (required & POOL_FLAG_PAGED) ? PagedPool : NonPagedPool;
    if (required & POOL_FLAG_CACHE_ALIGNED)
        *type |= NonPagedPoolCacheAligned;
    *how = (required & POOL_FLAG_UNINITIALIZED) ? 0 : EXP_ZERO;
    if (required & POOL_FLAG_USE_QUOTA)
        *how |= EXP_QUOTA;
    if (required & POOL_FLAG_RAISE_ON_FAILURE)
        *how |= EXP_RAISE | ((required & POOL_FLAG_USE_QUOTA) ? EXP_QUOTA_RAISE : 0);
    return TRUE;
}

static PVOID ExpInvalidRequest(POOL_FLAGS flags)
{
    if (flags & POOL_FLAG_RAISE_ON_FAILURE)
        ExRaiseStatus(STATUS_INVALID_PARAMETER);
    return NULL;
}

NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS flags, SIZE_T bytes, ULONG tag)
{
    ULONG type, how;
    if (ExpIsZeroTag(tag) || !ExpDecodeFlags(flags, &type, &how))
        return ExpInvalidRequest(flags);
    return ExpAllocate(type, bytes, tag, how, 100);
}

/* Applies extended parameters; FALSE when a required one is unknown, invalid, repeated or cannot be
 * honoured (ntmem has one NUMA node and no secure pool). */
static BOOLEAN ExpApplyExtendedParameters(PCPOOL_EXTENDED_PARAMETER params, ULONG count, ULONG type,
                                          ULONG *limit_percent)
{
    ULONG seen = 0;
    if (count != 0 && params == NULL)
        return FALSE;
    for (ULONG i = 0; i < count; i++) {
        const POOL_EXTENDED_PARAMETER *p = &params[i];
        ULONG kind = (ULONG)p->Type;
        BOOLEAN ok;
        if (kind == PoolExtendedParameterInvalidType || kind >= PoolExtendedParameterMax) {
            ok = FALSE;
        } else if (seen & (1u << kind)) {
            return FALSE; /* the same parameter twice is never valid */
        } else if (kind == PoolExtendedParameterPriority) {
            ULONG level = (ULONG)p->Priority & ~0xFu, special = (ULONG)p->Priority & 0xF;
            ok = level <= HighPoolPriority && (level & 0xF) == 0 && (special == 0 || special == 8 || special == 9);
            if (ok)
                *limit_percent = ExpLimitForPriority(p->Priority);
        } else if (kind == PoolExtendedParameterNumaNode) {
            ok = ExpPoolIndex(type) == 0 && ((p->PreferredNode & ~MM_ANY_NODE_OK) == 0 || (p->PreferredNode & MM_ANY_NODE_OK));
        } else {
            ok = FALSE; /* PoolExtendedParameterSecurePool: there is no secure kernel here */
        }
        if (kind < 32)
            seen |= 1u << kind;
        if (!ok && !p->Optional)
            return FALSE;
    }
    return TRUE;
}

NTKERNELAPI PVOID NTAPI ExAllocatePool3(POOL_FLAGS flags, SIZE_T bytes, ULONG tag,
                                        PCPOOL_EXTENDED_PARAMETER params, ULONG count)
{
    ULONG type, how, limit_percent = 100;
    if (ExpIsZeroTag(tag) || !ExpDecodeFlags(flags, &type, &how) ||
        !ExpApplyExtendedParameters(params, count, type, &limit_percent))
        return ExpInvalidRequest(flags);
    return ExpAllocate(type, bytes, tag, how, limit_percent);
}
