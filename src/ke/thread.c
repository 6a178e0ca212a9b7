/* thread.c - the per-thread kernel state (IRQL, bug-check flag, last error, pool caches). */
#include "ke/ke.h"

/*
 * Zero-initialised, so every new host thread starts at PASSIVE_LEVEL with no pool cache, as a fresh
 * system thread does. initial-exec keeps KeGetCurrentIrql and the pool fast paths to one fs-relative
 * load; it requires libntmem to be loaded at start-up (linked, not dlopen'ed late), which it is.
 */
NTMEM_API __thread KI_THREAD KiThread __attribute__((tls_model("initial-exec")));
