/* PrivateHeaps.c - the seeds' heap chapter as a program: the process heap, why to create private
 * heaps (protecting components from each other, same-size objects, no locking, freeing everything
 * at once), HeapReAlloc in place for linked nodes, and the inspection functions (HeapValidate,
 * HeapCompact, HeapLock/HeapWalk, the ToolHelp heap walk). */
#include <stdio.h>
#include <string.h>
#include <windows.h>

typedef struct NODE {
    struct NODE *next;
    int value;
} NODE;

typedef struct TREE {
    struct TREE *left, *right;
    int key;
} TREE;

static TREE *TreeInsert(HANDLE heap, TREE *root, int key)
{
    if (root == NULL) {
        TREE *t = HeapAlloc(heap, HEAP_ZERO_MEMORY, sizeof *t);
        if (t != NULL)
            t->key = key;
        return t;
    }
    if (key < root->key)
        root->left = TreeInsert(heap, root->left, key);
    else
        root->right = TreeInsert(heap, root->right, key);
    return root;
}

static int TreeCount(const TREE *t)
{
    return t == NULL ? 0 : 1 + TreeCount(t->left) + TreeCount(t->right);
}

int main(void)
{
    /* 3.2: the default heap exists before main and cannot be destroyed. */
    HANDLE process_heap = GetProcessHeap();
    printf("process heap present: %s, destroyable: %s\n", process_heap != NULL ? "yes" : "no",
           HeapDestroy(process_heap) ? "yes" : "no");

    /* 3.3.1: the list and the tree each get a heap, so a bug in one cannot damage the other. */
    HANDLE list_heap = HeapCreate(0, 0, 0);
    HANDLE tree_heap = HeapCreate(0, 0, 0);
    NODE *list = NULL;
    TREE *tree = NULL;
    for (int i = 0; i < 1000; i++) {
        NODE *n = HeapAlloc(list_heap, 0, sizeof *n); /* 3.3.2: every object the same size */
        n->value = i;
        n->next = list;
        list = n;
        tree = TreeInsert(tree_heap, tree, (i * 7919) % 1000);
    }
    printf("list heap valid: %s, tree heap valid: %s, tree nodes: %d\n", HeapValidate(list_heap, 0, NULL) ? "yes" : "no",
           HeapValidate(tree_heap, 0, NULL) ? "yes" : "no", TreeCount(tree));

    /* HEAP_REALLOC_IN_PLACE_ONLY: a node that others point to must not move. */
    NODE *grown = HeapReAlloc(list_heap, HEAP_REALLOC_IN_PLACE_ONLY, list, sizeof *list + 4096);
    printf("grow the first node in place: %s\n", grown == NULL ? "refused, node untouched" : "done in place");
    printf("first node still %d\n", list->value);

    /* 3.4: walk the heap with it locked, so no other thread changes it meanwhile. */
    int busy = 0, regions = 0;
    PROCESS_HEAP_ENTRY entry;
    entry.lpData = NULL;
    HeapLock(list_heap);
    while (HeapWalk(list_heap, &entry)) {
        busy += (entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) != 0;
        regions += (entry.wFlags & PROCESS_HEAP_REGION) != 0;
    }
    HeapUnlock(list_heap);
    printf("list heap: %d busy blocks in %d region(s), walk ended with error %lu\n", busy, regions,
           (unsigned long)GetLastError());

    /* ToolHelp: every heap of the process. */
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPHEAPLIST, GetCurrentProcessId());
    HEAPLIST32 hl = {.dwSize = sizeof hl};
    int heaps = 0;
    for (BOOL more = Heap32ListFirst(snapshot, &hl); more; more = Heap32ListNext(snapshot, &hl))
        heaps++;
    CloseHandle(snapshot);
    printf("ToolHelp sees %d heaps\n", heaps);

    /* 3.3.4: a heap only this thread uses needs no lock at all. */
    HANDLE mine = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    char *scratch = HeapAlloc(mine, 0, 256);
    strcpy(scratch, "unlocked scratch buffer");
    printf("%s\n", scratch);
    HeapDestroy(mine);

    /* 3.3.5: free the whole tree at once by destroying its heap; compact the list's heap after
     * freeing most of it. */
    printf("tree freed at once: %s\n", HeapDestroy(tree_heap) ? "yes" : "no");
    for (int i = 0; i < 900 && list != NULL; i++) {
        NODE *next = list->next;
        HeapFree(list_heap, 0, list);
        list = next;
    }
    printf("largest free block after compacting: %s\n", HeapCompact(list_heap, 0) > 0 ? "non-zero" : "zero");
    HeapDestroy(list_heap);
    return 0;
}
