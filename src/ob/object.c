/* object.c - kernel objects: reference counts, the handle table, ObReferenceObjectByHandle, ZwClose. */
#include <pthread.h>

#include "ob/ob.h"

#define OBP_MAGIC 0x4F626A6563744864ULL /* "ObjectHd" */
#define OBP_MAX_HANDLES 4096
#define OBP_KERNEL_HANDLE_BIT ((ULONG_PTR)0xFFFFFFFF80000000ULL) /* kernel handles look like Windows' */
#define FAST_FAIL_INVALID_REFERENCE_COUNT 0x0E

/* What precedes every object's body. */
typedef struct _OBP_HEADER {
    volatile LONG_PTR PointerCount;
    POBJECT_TYPE Type;
    ULONG64 Magic;
    ULONG64 Reserved; /* keeps the body 16-byte aligned */
} OBP_HEADER;

typedef struct _OBP_HANDLE_ENTRY {
    PVOID Object;
    ACCESS_MASK Access;
    ULONG Attributes;
} OBP_HANDLE_ENTRY;

static pthread_mutex_t ObpHandleLock = PTHREAD_MUTEX_INITIALIZER;
static OBP_HANDLE_ENTRY ObpHandles[OBP_MAX_HANDLES];

static OBP_HEADER *ObpHeader(PVOID object)
{
    OBP_HEADER *h = (OBP_HEADER *)object - 1;
    if (object == NULL || h->Magic != OBP_MAGIC)
        KiBugCheckWithReason(KERNEL_SECURITY_CHECK_FAILURE, FAST_FAIL_INVALID_REFERENCE_COUNT, (ULONG_PTR)object,
                             0, 0, "%p is not an object the object manager made", object);
    return h;
}

PVOID ObpCreateObject(POBJECT_TYPE type, SIZE_T size)
{
    /* Objects live in nonpaged pool under their type's tag, as NT's do, so poolmon shows them. */
    OBP_HEADER *h = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *h + size, type->PoolTag);
    if (h == NULL)
        return NULL;
    RtlZeroMemory(h, sizeof *h + size);
    h->PointerCount = 1;
    h->Type = type;
    h->Magic = OBP_MAGIC;
    return h + 1;
}

POBJECT_TYPE ObpObjectType(PVOID object)
{
    return ObpHeader(object)->Type;
}

LONG_PTR FASTCALL ObfReferenceObject(PVOID object)
{
    return __atomic_add_fetch(&ObpHeader(object)->PointerCount, 1, __ATOMIC_RELAXED);
}

LONG_PTR FASTCALL ObfDereferenceObject(PVOID object)
{
    OBP_HEADER *h = ObpHeader(object);
    LONG_PTR left = __atomic_sub_fetch(&h->PointerCount, 1, __ATOMIC_ACQ_REL);
    if (left < 0)
        KiBugCheckWithReason(KERNEL_SECURITY_CHECK_FAILURE, FAST_FAIL_INVALID_REFERENCE_COUNT, (ULONG_PTR)object,
                             (ULONG_PTR)left, 0, "object %p was dereferenced more often than referenced", object);
    if (left == 0) {
        if (h->Type->Delete != NULL)
            h->Type->Delete(object);
        h->Magic = 0;
        ExFreePoolWithTag(h, h->Type->PoolTag);
    }
    return left;
}

NTSTATUS ObpInsertHandle(PVOID object, ACCESS_MASK access, ULONG attributes, PHANDLE handle)
{
    pthread_mutex_lock(&ObpHandleLock);
    for (ULONG i = 0; i < OBP_MAX_HANDLES; i++) {
        if (ObpHandles[i].Object != NULL)
            continue;
        ObfReferenceObject(object); /* the handle's reference */
        ObpHandles[i] = (OBP_HANDLE_ENTRY){object, access, attributes};
        pthread_mutex_unlock(&ObpHandleLock);
        ULONG_PTR value = (ULONG_PTR)(i + 1) * 4;
        if (attributes & OBJ_KERNEL_HANDLE)
            value |= OBP_KERNEL_HANDLE_BIT;
        *handle = (HANDLE)value;
        return STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&ObpHandleLock);
    return STATUS_INSUFFICIENT_RESOURCES;
}

/* The table slot a handle names, or -1. */
static LONG ObpHandleIndex(HANDLE handle)
{
    ULONG_PTR value = (ULONG_PTR)handle;
    if ((value & OBP_KERNEL_HANDLE_BIT) == OBP_KERNEL_HANDLE_BIT)
        value &= ~OBP_KERNEL_HANDLE_BIT;
    else if (value & OBP_KERNEL_HANDLE_BIT)
        return -1;
    if (value == 0 || (value & 3) != 0 || value / 4 > OBP_MAX_HANDLES)
        return -1;
    return (LONG)(value / 4 - 1);
}

NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE handle, ACCESS_MASK access, POBJECT_TYPE type, KPROCESSOR_MODE mode,
                                         PVOID *object, POBJECT_HANDLE_INFORMATION info)
{
    LONG i = ObpHandleIndex(handle);
    *object = NULL;
    pthread_mutex_lock(&ObpHandleLock);
    OBP_HANDLE_ENTRY e = i >= 0 ? ObpHandles[i] : (OBP_HANDLE_ENTRY){0};
    if (e.Object == NULL) {
        pthread_mutex_unlock(&ObpHandleLock);
        return STATUS_INVALID_HANDLE;
    }
    if (type != NULL && ObpObjectType(e.Object) != type) {
        pthread_mutex_unlock(&ObpHandleLock);
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    /* Kernel-mode callers are not access-checked; user mode gets what the handle was opened for. */
    if (mode == UserMode && (access & ~e.Access) != 0) {
        pthread_mutex_unlock(&ObpHandleLock);
        return STATUS_ACCESS_DENIED;
    }
    ObfReferenceObject(e.Object);
    pthread_mutex_unlock(&ObpHandleLock);
    if (info != NULL) {
        info->HandleAttributes = e.Attributes;
        info->GrantedAccess = e.Access;
    }
    *object = e.Object;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtClose(HANDLE handle)
{
    LONG i = ObpHandleIndex(handle);
    pthread_mutex_lock(&ObpHandleLock);
    PVOID object = i >= 0 ? ObpHandles[i].Object : NULL;
    if (object != NULL)
        ObpHandles[i].Object = NULL;
    pthread_mutex_unlock(&ObpHandleLock);
    if (object == NULL) {
        /* Kernel code closing a kernel handle that is not one is a bug check on Windows. */
        if (((ULONG_PTR)handle & OBP_KERNEL_HANDLE_BIT) == OBP_KERNEL_HANDLE_BIT &&
            KeGetCurrentIrql() <= APC_LEVEL && ntmem_get_thread_mode() == KernelMode)
            KiBugCheckWithReason(INVALID_KERNEL_HANDLE, (ULONG_PTR)handle, 1, 0, 0,
                                 "ZwClose of kernel handle %p, which is not open", handle);
        return STATUS_INVALID_HANDLE;
    }
    ObfDereferenceObject(object);
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI ZwClose(HANDLE handle)
{
    return NtClose(handle);
}
