/* test_driver_host.c - the driver host: loading, DRIVER_OBJECT and RegistryPath, the System process,
 * the test hook, per-driver pool by tag, the fail sweep, and the bug checks at return and unload. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ntddk.h>
#include <ntmem.h>

#include "death.h"

#define DRIVERS NTMEM_BUILD_DIR "/drivers/"
#define PROBE NTMEM_BUILD_DIR "/tests/HostProbe.so"

static void *sym(const char *path, const char *name)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(h);
    void *s = dlsym(h, name);
    dlclose(h);
    ck_assert_ptr_nonnull(s);
    return s;
}

static NTMEM_DRIVER_TAG_USAGE *tag_usage(NTMEM_DRIVER_REPORT *r, ULONG tag)
{
    for (ULONG i = 0; i < r->Pool.TagCount; i++)
        if (r->Pool.Tags[i].Tag == tag)
            return &r->Pool.Tags[i];
    return NULL;
}

START_TEST(load_errors)
{
    PNTMEM_DRIVER d = (PNTMEM_DRIVER)1;
    NTSTATUS entry;
    ck_assert_int_eq(ntmem_load_driver("/nonexistent/driver.so", NULL, NULL, &d, &entry), STATUS_OBJECT_NAME_NOT_FOUND);
    ck_assert_ptr_null(d);
    char junk[] = "/tmp/ntmem-junk-XXXXXX";
    int fd = mkstemp(junk);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
    close(fd);
    ck_assert_int_eq(ntmem_load_driver(junk, NULL, NULL, &d, &entry), STATUS_INVALID_IMAGE_FORMAT);
    unlink(junk);
    /* A shared object that is not a driver: it exports no DriverEntry. */
    ck_assert_int_eq(ntmem_load_driver(NTMEM_BUILD_DIR "/libntmem.so", NULL, NULL, &d, &entry), STATUS_PROCEDURE_NOT_FOUND);
    ck_assert_int_eq(ntmem_load_driver(NULL, NULL, NULL, &d, &entry), STATUS_INVALID_PARAMETER);
}
END_TEST

START_TEST(entry_sees_object_registry_and_system_process)
{
    void *keep = dlopen(PROBE, RTLD_NOW | RTLD_LOCAL); /* so its globals can be read after the unload */
    ck_assert_ptr_nonnull(keep);
    PNTMEM_DRIVER d;
    NTSTATUS entry = -1;
    ck_assert_int_eq(ntmem_load_driver(PROBE, NULL, NULL, &d, &entry), STATUS_SUCCESS);
    ck_assert_int_eq(entry, STATUS_SUCCESS);
    PDRIVER_OBJECT object = *(PDRIVER_OBJECT *)sym(PROBE, "HostProbeObject");
    ck_assert_ptr_eq(object, ntmem_driver_object(d));
    ck_assert_int_eq(object->Type, IO_TYPE_DRIVER);
    ck_assert_int_eq(object->Size, sizeof(DRIVER_OBJECT));
    ck_assert_ptr_eq(object->DriverInit, sym(PROBE, "DriverEntry"));
    ck_assert_ptr_nonnull(object->DriverUnload);
    ck_assert_ptr_eq(object->DriverExtension->DriverObject, object);
    /* The image range holds DriverEntry. */
    ck_assert((PUCHAR)object->DriverInit >= (PUCHAR)object->DriverStart &&
              (PUCHAR)object->DriverInit < (PUCHAR)object->DriverStart + object->DriverSize);
    char name[64] = {0};
    for (int i = 0; i < object->DriverName.Length / 2; i++)
        name[i] = (char)object->DriverName.Buffer[i];
    ck_assert_str_eq(name, "\\Driver\\HostProbe");
    const WCHAR *reg = sym(PROBE, "HostProbeRegistry");
    USHORT reg_len = *(USHORT *)sym(PROBE, "HostProbeRegistryLength");
    char path[256] = {0};
    for (int i = 0; i < reg_len / 2; i++)
        path[i] = (char)reg[i];
    ck_assert_str_eq(path, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\HostProbe");
    ck_assert_int_eq(*(KIRQL *)sym(PROBE, "HostProbeIrql"), PASSIVE_LEVEL);
    ck_assert_ptr_eq(*(PEPROCESS *)sym(PROBE, "HostProbeProcess"), PsInitialSystemProcess);
    ck_assert_ptr_ne(PsGetCurrentProcess(), PsInitialSystemProcess); /* this thread is not a system thread */

    /* The test hook runs on a system thread with the driver object and its status comes back. */
    ck_assert_int_eq(ntmem_run_driver_test(d), STATUS_ALERTED);
    ck_assert_int_eq(*(int *)sym(PROBE, "HostProbeTests"), 1);

    /* Pool the test program allocates is not the driver's. */
    PVOID mine = ExAllocatePoolWithTag(NonPagedPool, 64, 'aPsH');
    NTMEM_DRIVER_REPORT r;
    ntmem_unload_driver(d, &r);
    ExFreePoolWithTag(mine, 'aPsH');
    ck_assert_int_eq(*(int *)sym(PROBE, "HostProbeUnloads"), 1);
    ck_assert(r.UnloadCalled && r.TestRan && r.TestStatus == STATUS_ALERTED);
    ck_assert_int_eq(r.LeakedAllocations, 0);
    ck_assert_int_eq(r.Pool.Allocations, 3);
    ck_assert_int_eq(r.Pool.Frees, 3);
    ck_assert_int_eq(r.Pool.PeakBytes, 400); /* 100 + 300 live together; the 50 comes after the 300 went */
    ck_assert_int_eq(r.Pool.CurrentBytes, 0);
    NTMEM_DRIVER_TAG_USAGE *a = tag_usage(&r, 'aPsH'), *b = tag_usage(&r, 'bPsH');
    ck_assert(a != NULL && b != NULL);
    ck_assert(a->Allocations == 2 && a->Frees == 2 && a->PeakBytes == 400 && !a->Paged);
    ck_assert(b->Allocations == 1 && b->Frees == 1 && b->PeakBytes == 50 && b->Paged);
    dlclose(keep);
}
END_TEST

START_TEST(service_name_and_registry_path_given)
{
    PNTMEM_DRIVER d;
    NTSTATUS entry;
    ck_assert_int_eq(ntmem_load_driver(PROBE, "Probe2", "\\Registry\\X\\Probe2", &d, &entry), STATUS_SUCCESS);
    PDRIVER_OBJECT object = ntmem_driver_object(d);
    ck_assert_int_eq(object->DriverName.Length, sizeof("\\Driver\\Probe2") * 2 - 2);
    ck_assert_int_eq(*(USHORT *)sym(PROBE, "HostProbeRegistryLength"), sizeof("\\Registry\\X\\Probe2") * 2 - 2);
    ntmem_unload_driver(d, NULL);
}
END_TEST

/* The sweep's primitive: the Faulty driver's "sweep" mode allocates twice in DriverEntry and leaks
 * the first block when the second fails. */
START_TEST(fail_sweep_fails_the_kth_request)
{
    const char *reg = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\Faulty\\sweep";
    for (ULONG64 k = 1; k <= 3; k++) {
        ntmem_verifier_fail_driver_allocation(NULL, k);
        PNTMEM_DRIVER d;
        NTSTATUS entry;
        ck_assert_int_eq(ntmem_load_driver(DRIVERS "Faulty.so", NULL, reg, &d, &entry), STATUS_SUCCESS);
        NTMEM_DRIVER_REPORT r;
        ntmem_unload_driver(d, &r);
        ck_assert_int_eq(r.Pool.AllocationRequests, k == 3 ? 2 : k);
        ck_assert_int_eq(r.Pool.FailuresInjected, k == 3 ? 0 : 1);
        ck_assert_int_eq(entry, k == 3 ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES);
        ck_assert(r.UnloadCalled == (k == 3));
        ck_assert_int_eq(r.LeakedAllocations, k == 2 ? 1 : 0); /* the bug the sweep exists to find */
    }
    ntmem_verifier_fail_driver_allocation(NULL, 0);
}
END_TEST

/* With a driver loaded, low resources simulation fails only the driver's requests (Driver Verifier
 * injects faults only into the drivers it verifies): the host's own allocations go on. */
START_TEST(low_resources_fails_only_the_drivers_requests)
{
    ntmem_set_low_resources(100, 1, 0);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_LOW_RESOURCES);
    PNTMEM_DRIVER d;
    NTSTATUS entry;
    ck_assert_int_eq(ntmem_load_driver(PROBE, NULL, NULL, &d, &entry), STATUS_SUCCESS); /* its object: the host's */
    ck_assert_int_eq(entry, STATUS_INSUFFICIENT_RESOURCES);
    PVOID mine = ExAllocatePoolWithTag(NonPagedPool, 64, 'tsoH');
    ck_assert_ptr_nonnull(mine);
    ExFreePoolWithTag(mine, 'tsoH');
    NTMEM_DRIVER_REPORT r;
    ntmem_unload_driver(d, &r);
    ck_assert(!r.UnloadCalled);
    ck_assert_int_eq(r.Pool.Allocations, 0);
    ck_assert_int_eq(r.LeakedAllocations, 0);
    /* No driver registered any more: every request is a candidate again. */
    ck_assert_ptr_null(ExAllocatePoolWithTag(NonPagedPool, 64, 'tsoH'));
    ntmem_set_verifier_flags(0);
}
END_TEST

static void load_faulty(void *mode)
{
    char reg[160];
    snprintf(reg, sizeof reg, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\Faulty\\%s", (char *)mode);
    if (strcmp(mode, "leak") == 0)
        ntmem_set_verifier_flags(NTMEM_VERIFIER_POOL_TRACKING);
    PNTMEM_DRIVER d;
    NTSTATUS entry;
    ntmem_load_driver(DRIVERS "Faulty.so", NULL, reg, &d, &entry);
    ntmem_unload_driver(d, NULL);
}

START_TEST(spin_lock_held_at_return_is_0xE1)
{
    void *h = dlopen(DRIVERS "Faulty.so", RTLD_NOW | RTLD_LOCAL); /* same mapping in the child */
    ck_assert_ptr_nonnull(h);
    void *entry = dlsym(h, "DriverEntry");
    static death_result r;
    death_run(load_faulty, "spinlock", &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_uint_eq(r.code, WORKER_THREAD_RETURNED_AT_BAD_IRQL);
    ck_assert_uint_eq(r.p[0], (unsigned long long)(ULONG_PTR)entry);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    dlclose(h);
}
END_TEST

START_TEST(lookaside_left_at_unload_is_0xCE)
{
    void *h = dlopen(DRIVERS "Faulty.so", RTLD_NOW | RTLD_LOCAL);
    ck_assert_ptr_nonnull(h);
    struct link_map *map;
    ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &map), 0);
    static death_result r;
    death_run(load_faulty, "lookaside", &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_uint_eq(r.code, DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS);
    /* P1 is the list, a global of the driver: inside its image. */
    ck_assert(r.p[0] > map->l_addr && r.p[0] < map->l_addr + 0x100000);
    ck_assert_msg(strstr(r.output, "lookaside list") != NULL, "%s", r.output);
    dlclose(h);
}
END_TEST

START_TEST(leak_under_pool_tracking_is_0xC4_0x62)
{
    ck_assert_bugcheck(load_faulty, "leak", DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62);
}
END_TEST

START_TEST(leak_without_verifier_is_reported_not_fatal)
{
    PNTMEM_DRIVER d;
    NTSTATUS entry;
    ck_assert_int_eq(ntmem_load_driver(DRIVERS "RtTest.so", NULL, NULL, &d, &entry), STATUS_SUCCESS);
    NTMEM_DRIVER_REPORT r;
    ntmem_unload_driver(d, &r);
    ck_assert_int_eq(r.LeakedAllocations, 2);
    ck_assert_int_eq(r.Pool.CurrentBytes, 2048);
}
END_TEST

/* Seeds 001/002's sections: PAGE code and data page out and back, locked sections stay usable at
 * DISPATCH_LEVEL (under IRQL checking too), MmPageEntireDriver pages the rest; the driver's test hook
 * checks each step and says so in its status. */
START_TEST(paged_sections_page_and_lock)
{
    for (int verifier = 0; verifier < 2; verifier++) {
        ntmem_set_verifier_flags(verifier ? NTMEM_VERIFIER_IRQL_CHECKING : 0);
        PNTMEM_DRIVER d;
        NTSTATUS entry;
        ck_assert_int_eq(ntmem_load_driver(DRIVERS "PagedSections.so", NULL, NULL, &d, &entry), STATUS_SUCCESS);
        ck_assert_int_eq(entry, STATUS_SUCCESS);
        ck_assert_int_eq(ntmem_run_driver_test(d), STATUS_SUCCESS);
        NTMEM_DRIVER_REPORT r;
        ntmem_unload_driver(d, &r);
        ck_assert_int_eq(r.LockedSections, 0);
    }
    ntmem_set_verifier_flags(0);
    /* Not inside a loaded driver's pageable section: nothing to lock. */
    static int not_a_driver;
    ck_assert_ptr_null(MmLockPagableDataSection(&not_a_driver));
    MmUnlockPagableImageSection(NULL);
}
END_TEST

static void run_faulty_hook(void *mode)
{
    if (strcmp(mode, "paged-code-at-dispatch") == 0)
        ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    load_faulty(mode);
}

/* INIT is discarded when DriverEntry returns: calling into it later is STOP 0x50 (P2 0x10 execute,
 * P3 the instruction, which is the address called). */
START_TEST(call_into_discarded_init_is_0x50)
{
    static death_result r;
    death_run(run_faulty_hook, "init-after-discard", &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_uint_eq(r.code, PAGE_FAULT_IN_NONPAGED_AREA);
    ck_assert_uint_eq(r.p[1], 0x10);
    ck_assert_uint_eq(r.p[0], r.p[2]);
    ck_assert_msg(strstr(r.output, "INIT section") != NULL, "%s", r.output);
}
END_TEST

/* Under IRQL checking, PAGE code run at DISPATCH_LEVEL is STOP 0xD1 (P2 2, P3 8 execute, P4 = P1). */
START_TEST(paged_code_at_dispatch_is_0xD1)
{
    static death_result r;
    death_run(run_faulty_hook, "paged-code-at-dispatch", &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_uint_eq(r.code, DRIVER_IRQL_NOT_LESS_OR_EQUAL);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    ck_assert_uint_eq(r.p[2], 8);
    ck_assert_uint_eq(r.p[0], r.p[3]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("driver_host");
    TCase *t = tcase_create("host");
    tcase_add_test(t, load_errors);
    tcase_add_test(t, entry_sees_object_registry_and_system_process);
    tcase_add_test(t, service_name_and_registry_path_given);
    tcase_add_test(t, fail_sweep_fails_the_kth_request);
    tcase_add_test(t, leak_without_verifier_is_reported_not_fatal);
    tcase_add_test(t, paged_sections_page_and_lock);
    tcase_add_test(t, low_resources_fails_only_the_drivers_requests);
    suite_add_tcase(s, t);
    TCase *death = tcase_create("death");
    tcase_add_test(death, spin_lock_held_at_return_is_0xE1);
    tcase_add_test(death, lookaside_left_at_unload_is_0xCE);
    tcase_add_test(death, leak_under_pool_tracking_is_0xC4_0x62);
    tcase_add_test(death, call_into_discarded_init_is_0x50);
    tcase_add_test(death, paged_code_at_dispatch_is_0xD1);
    suite_add_tcase(s, death);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
