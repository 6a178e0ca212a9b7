/* ob.h - object manager internals: object types, creating objects, inserting handles. */
#ifndef NTMEM_OB_H
#define NTMEM_OB_H

#include <ntmem.h>
#include "ke/ke.h"

/* An object type: the tag its objects' pool carries and what deleting one involves. */
struct _OBJECT_TYPE {
    PCSTR Name;
    ULONG PoolTag;
    VOID (*Delete)(PVOID Object);
};

/* A zeroed object of Size bytes with one reference (the creator's), or NULL without memory. */
NTMEM_HIDDEN PVOID ObpCreateObject(POBJECT_TYPE Type, SIZE_T Size);
NTMEM_HIDDEN POBJECT_TYPE ObpObjectType(PVOID Object);
/* A new handle to Object, which takes a reference of its own. */
NTMEM_HIDDEN NTSTATUS ObpInsertHandle(PVOID Object, ACCESS_MASK Access, ULONG Attributes, PHANDLE Handle);

#endif /* NTMEM_OB_H */
