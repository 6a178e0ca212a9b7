/* test_toolhelp.c - CreateToolhelp32Snapshot(TH32CS_SNAPHEAPLIST) and the Heap32* walk of this
 * process's heaps, CloseHandle. */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include <windows.h>

START_TEST(the_heap_list_shows_every_heap_and_the_default_one_first)
{
    HANDLE mine = HeapCreate(0, 0, 0);
    ck_assert_ptr_nonnull(mine);
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPHEAPLIST, GetCurrentProcessId());
    ck_assert_ptr_ne(snap, INVALID_HANDLE_VALUE);
    HEAPLIST32 hl;
    memset(&hl, 0, sizeof hl);
    hl.dwSize = sizeof hl;
    ck_assert(Heap32ListFirst(snap, &hl));
    ck_assert_uint_eq(hl.th32HeapID, (ULONG_PTR)GetProcessHeap());
    ck_assert_uint_eq(hl.dwFlags, HF32_DEFAULT);
    ck_assert_uint_eq(hl.th32ProcessID, (DWORD)getpid());
    int count = 1, saw_mine = 0;
    while (Heap32ListNext(snap, &hl)) {
        count++;
        saw_mine |= hl.th32HeapID == (ULONG_PTR)mine;
        ck_assert_uint_eq(hl.dwFlags, 0);
    }
    ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
    ck_assert_int_eq(saw_mine, 1);
    ck_assert_int_eq(count, (int)GetProcessHeaps(0, NULL));
    ck_assert(CloseHandle(snap));
    ck_assert(!CloseHandle(snap));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert(HeapDestroy(mine));
}
END_TEST

START_TEST(heap32_first_and_next_walk_the_blocks)
{
    HANDLE heap = HeapCreate(0, 0, 0);
    void *a = HeapAlloc(heap, 0, 100), *b = HeapAlloc(heap, 0, 3000), *c = HeapAlloc(heap, 0, 700000);
    ck_assert(HeapFree(heap, 0, HeapAlloc(heap, 0, 2500)));
    HEAPENTRY32 he;
    memset(&he, 0, sizeof he);
    he.dwSize = sizeof he;
    ck_assert(Heap32First(&he, 0, (ULONG_PTR)heap));
    int seen = 0, blocks = 0, free_blocks = 0;
    do {
        blocks++;
        ck_assert_uint_eq(he.th32HeapID, (ULONG_PTR)heap);
        if (he.dwFlags == LF32_FREE)
            free_blocks++;
        else
            ck_assert_uint_eq(he.dwFlags, LF32_FIXED);
        if (he.dwAddress == (ULONG_PTR)a) {
            ck_assert_uint_eq(he.dwBlockSize, 100);
            seen |= 1;
        }
        if (he.dwAddress == (ULONG_PTR)b) {
            ck_assert_uint_eq(he.dwBlockSize, 3000);
            seen |= 2;
        }
        if (he.dwAddress == (ULONG_PTR)c) {
            ck_assert_uint_eq(he.dwBlockSize, 700000);
            seen |= 4;
        }
    } while (Heap32Next(&he));
    ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
    ck_assert_int_eq(seen, 7);
    ck_assert_int_ge(free_blocks, 1);
    ck_assert_int_ge(blocks, 4);
    ck_assert(HeapDestroy(heap));
    ck_assert(!Heap32First(&he, 0, (ULONG_PTR)heap)); /* gone */
    he.dwSize = 3;
    ck_assert(!Heap32First(&he, 0, (ULONG_PTR)GetProcessHeap()));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_eq(CreateToolhelp32Snapshot(2 /* processes */, 0), INVALID_HANDLE_VALUE);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("toolhelp");
    TCase *t = tcase_create("heaps");
    tcase_add_test(t, the_heap_list_shows_every_heap_and_the_default_one_first);
    tcase_add_test(t, heap32_first_and_next_walk_the_blocks);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
