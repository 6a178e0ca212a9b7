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

/* "special_pool,pool_tracking,low_resources=5:42": names separated by commas; a switch's own
 * parameters (after '=') belong to that switch and are read where it is implemented. */
static ULONG VfParse(const char *text)
{
    ULONG flags = 0;
    while (*text != '\0') {
        size_t len = strcspn(text, ",");
        size_t name_len = strcspn(text, ",=");
        if (name_len > len)
            name_len = len;
        BOOLEAN known = FALSE;
        for (size_t i = 0; i < sizeof VfSwitches / sizeof VfSwitches[0]; i++) {
            if (strlen(VfSwitches[i].Name) == name_len && strncmp(text, VfSwitches[i].Name, name_len) == 0) {
                flags |= VfSwitches[i].Flag;
                known = TRUE;
            }
        }
        if (!known && name_len != 0)
            fprintf(stderr, "ntmem: NTMEM_VERIFIER: unknown switch '%.*s' ignored\n", (int)name_len, text);
        text += len;
        if (*text == ',')
            text++;
    }
    return flags;
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
    if (text != NULL)
        VfFlags = VfParse(text);
    if (VfFlags & (NTMEM_VERIFIER_SPECIAL_POOL | NTMEM_VERIFIER_LOW_RESOURCES | NTMEM_VERIFIER_POOL_TRACKING))
        VfFlagsChanged(VfFlags);
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
