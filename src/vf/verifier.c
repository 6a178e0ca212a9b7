/* verifier.c - Driver Verifier switches: NTMEM_VERIFIER at start-up, ntmem_set_verifier_flags later. */
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "vf/vf.h"

ULONG VfFlags;
volatile UCHAR VfPoolSlowPath;

static const struct {
    const char *Name;
    ULONG Flag;
} VfSwitches[] = {
    {"special_pool", NTMEM_VERIFIER_SPECIAL_POOL},
    {"irql_checking", NTMEM_VERIFIER_IRQL_CHECKING},
    {"low_resources", NTMEM_VERIFIER_LOW_RESOURCES},
    {"pool_tracking", NTMEM_VERIFIER_POOL_TRACKING},
};

NTMEM_API NTSTATUS ntmem_configure_verifier(PCSTR text)
{
    if (text == NULL)
        return STATUS_INVALID_PARAMETER;
    /* Everything is read before anything is applied: text with a mistake changes nothing. */
    ULONG flags = 0, percent = 0;
    ULONG64 seed = 0, grace = 0;
    NTMEM_SPECIAL_POOL_SETTINGS special;
    BOOLEAN has_special = FALSE, has_low = FALSE;
    for (const char *p = text; *p != '\0';) {
        const char *item_end = p + strcspn(p, ",");
        const char *name_end = p + strcspn(p, ",=");
        size_t name_len = (size_t)(name_end - p);
        ULONG flag = 0;
        for (size_t i = 0; i < sizeof VfSwitches / sizeof VfSwitches[0] && flag == 0; i++)
            if (strlen(VfSwitches[i].Name) == name_len && strncmp(p, VfSwitches[i].Name, name_len) == 0)
                flag = VfSwitches[i].Flag;
        if (flag == 0 && name_len != 0)
            return STATUS_INVALID_PARAMETER;
        if (name_end < item_end) { /* the switch's own parameters, after '=' */
            BOOLEAN read = flag == NTMEM_VERIFIER_SPECIAL_POOL
                               ? (has_special = VfParseSpecialPool(name_end + 1, item_end, &special))
                           : flag == NTMEM_VERIFIER_LOW_RESOURCES
                               ? (has_low = VfParseLowResources(name_end + 1, item_end, &percent, &seed, &grace))
                               : FALSE;
            if (!read)
                return STATUS_INVALID_PARAMETER;
        }
        flags |= flag;
        p = item_end + (*item_end == ',');
    }
    if (has_special)
        ntmem_set_special_pool(&special);
    if (has_low)
        ntmem_set_low_resources(percent, seed, grace);
    ntmem_set_verifier_flags(flags);
    return STATUS_SUCCESS;
}

/* The fast paths step aside while special pool, low resources, pool tracking or a registered driver
 * image (whose pool is attributed) needs the checked slow paths. */
void VfRecomputeSlowPath(void)
{
    ULONG flags = __atomic_load_n(&VfFlags, __ATOMIC_RELAXED);
    __atomic_store_n(&VfPoolSlowPath,
                     __atomic_load_n(&VfSpecialPoolOn, __ATOMIC_RELAXED) ||
                         (flags & (NTMEM_VERIFIER_LOW_RESOURCES | NTMEM_VERIFIER_POOL_TRACKING)) ||
                         __atomic_load_n(&VfRegisteredDrivers, __ATOMIC_RELAXED) != 0,
                     __ATOMIC_RELAXED);
}

/* The switches that take the pool off its fast paths changed: set special pool up or down first. */
static void VfFlagsChanged(ULONG flags)
{
    VfSpecialPoolSwitch((flags & NTMEM_VERIFIER_SPECIAL_POOL) != 0);
    VfRecomputeSlowPath();
}

__attribute__((constructor)) static void VfInitialize(void)
{
    const char *text = OsGetEnv("NTMEM_VERIFIER");
    if (text != NULL && !NT_SUCCESS(ntmem_configure_verifier(text)))
        fprintf(stderr, "ntmem: NTMEM_VERIFIER='%s' is not understood (switches: special_pool[=tag:Tag1+size:16-64+start], "
                        "pool_tracking, irql_checking, low_resources[=percent[:seed[:grace]]]); the verifier stays off\n",
                text);
}

NTMEM_API ULONG ntmem_set_verifier_flags(ULONG flags)
{
    ULONG old = __atomic_exchange_n(&VfFlags, flags, __ATOMIC_RELAXED);
    if ((old | flags) & (NTMEM_VERIFIER_SPECIAL_POOL | NTMEM_VERIFIER_LOW_RESOURCES | NTMEM_VERIFIER_POOL_TRACKING))
        VfFlagsChanged(flags);
    return old;
}

NTMEM_API ULONG ntmem_get_verifier_flags(VOID)
{
    return __atomic_load_n(&VfFlags, __ATOMIC_RELAXED);
}
