/* lookasidetest.h - helpers shared by the lookaside tests: one list of any kind, its registry entry. */
#ifndef NTMEM_TESTS_LOOKASIDETEST_H
#define NTMEM_TESTS_LOOKASIDETEST_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

/* The three kinds of list, driven through one interface so each test can run over all of them. */
enum lt_kind { LT_NPAGED, LT_PAGED, LT_EX_NONPAGED, LT_EX_PAGED, LT_KINDS };

static const char *const lt_kind_names[LT_KINDS] = {"npaged", "paged", "ex-nonpaged", "ex-paged"};

typedef struct lt_list {
    union {
        NPAGED_LOOKASIDE_LIST np;
        PAGED_LOOKASIDE_LIST pg;
        LOOKASIDE_LIST_EX ex;
    } u;
    enum lt_kind kind;
} lt_list;

static inline PGENERAL_LOOKASIDE_POOL lt_general(lt_list *l)
{
    switch (l->kind) {
    case LT_NPAGED: return (PGENERAL_LOOKASIDE_POOL)&l->u.np.L;
    case LT_PAGED: return (PGENERAL_LOOKASIDE_POOL)&l->u.pg.L;
    default: return &l->u.ex.L;
    }
}

static inline PVOID lt_address(lt_list *l)
{
    return (PVOID)&l->u;
}

static inline POOL_TYPE lt_pool(enum lt_kind k)
{
    return k == LT_PAGED || k == LT_EX_PAGED ? PagedPool : NonPagedPool;
}

static inline int lt_is_ex(enum lt_kind k)
{
    return k == LT_EX_NONPAGED || k == LT_EX_PAGED;
}

/* Initialises with the default routines (NULL) and the given Depth argument. The list's memory is
 * not cleared first: re-initialising a registered list must look to ntmem as it would in a driver. */
static inline void lt_init_depth(lt_list *l, enum lt_kind k, SIZE_T size, ULONG tag, USHORT depth)
{
    l->kind = k;
    switch (k) {
    case LT_NPAGED: ExInitializeNPagedLookasideList(&l->u.np, NULL, NULL, 0, size, tag, depth); break;
    case LT_PAGED: ExInitializePagedLookasideList(&l->u.pg, NULL, NULL, 0, size, tag, depth); break;
    default:
        ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&l->u.ex, NULL, NULL, lt_pool(k), 0, size, tag, depth),
                          (ULONG)STATUS_SUCCESS);
    }
}

static inline void lt_init(lt_list *l, enum lt_kind k, SIZE_T size, ULONG tag)
{
    lt_init_depth(l, k, size, tag, 0);
}

static inline PVOID lt_alloc(lt_list *l)
{
    switch (l->kind) {
    case LT_NPAGED: return ExAllocateFromNPagedLookasideList(&l->u.np);
    case LT_PAGED: return ExAllocateFromPagedLookasideList(&l->u.pg);
    default: return ExAllocateFromLookasideListEx(&l->u.ex);
    }
}

static inline void lt_free(lt_list *l, PVOID p)
{
    switch (l->kind) {
    case LT_NPAGED: ExFreeToNPagedLookasideList(&l->u.np, p); break;
    case LT_PAGED: ExFreeToPagedLookasideList(&l->u.pg, p); break;
    default: ExFreeToLookasideListEx(&l->u.ex, p);
    }
}

static inline void lt_delete(lt_list *l)
{
    switch (l->kind) {
    case LT_NPAGED: ExDeleteNPagedLookasideList(&l->u.np); break;
    case LT_PAGED: ExDeletePagedLookasideList(&l->u.pg); break;
    default: ExDeleteLookasideListEx(&l->u.ex);
    }
}

/* The registry's entry for a list (by address). Returns whether it is registered. */
static inline int lt_info(PVOID list, NTMEM_LOOKASIDE_INFO *out)
{
    ULONG total = 0;
    NTSTATUS s = ntmem_query_lookaside_lists(NULL, 0, &total);
    ck_assert(s == STATUS_SUCCESS || s == STATUS_BUFFER_TOO_SMALL);
    ULONG room = total + 8;
    NTMEM_LOOKASIDE_INFO *all = calloc(room, sizeof *all);
    ck_assert_ptr_nonnull(all);
    ck_assert_uint_eq((ULONG)ntmem_query_lookaside_lists(all, room, &total), (ULONG)STATUS_SUCCESS);
    int found = 0;
    for (ULONG i = 0; i < total; i++) {
        if (all[i].List == list) {
            ck_assert_msg(!found, "list %p registered twice", list);
            if (out != NULL)
                *out = all[i];
            found = 1;
        }
    }
    free(all);
    return found;
}

static inline NTMEM_LOOKASIDE_INFO lt_must_info(PVOID list)
{
    NTMEM_LOOKASIDE_INFO i;
    memset(&i, 0, sizeof i);
    ck_assert_msg(lt_info(list, &i), "list %p is not registered", list);
    return i;
}

static inline ULONG lt_registered(void)
{
    ULONG total = 0;
    NTSTATUS s = ntmem_query_lookaside_lists(NULL, 0, &total);
    ck_assert(s == STATUS_SUCCESS || s == STATUS_BUFFER_TOO_SMALL);
    return total;
}

/* Depth as the balance set writes it (possibly from its own thread). */
static inline USHORT lt_depth(PVOID general)
{
    return __atomic_load_n(&((PGENERAL_LOOKASIDE_POOL)general)->Depth, __ATOMIC_RELAXED);
}

#endif /* NTMEM_TESTS_LOOKASIDETEST_H */
