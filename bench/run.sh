#!/usr/bin/env bash
# run.sh - runs every benchmark, alternating allocators and binaries, and prints one markdown table.
# Usage: bench/run.sh [BUILD_DIR]   (default build-bench; binaries are in BUILD_DIR/bench)
# Environment: BENCH_ROUNDS (default 7), BENCH_ARGS (extra options for every binary, e.g. "-n 2000000").
# Writes BUILD_DIR/bench-raw.txt (every line every binary printed) and BUILD_DIR/results.md (the table).
set -u

build=${1:-build-bench}
rounds=${BENCH_ROUNDS:-7}
read -r -a extra <<<"${BENCH_ARGS:-}"
raw=$build/bench-raw.txt
out=$build/results.md

progs=()
for p in bench_pool bench_jemalloc bench_tcmalloc; do
  [ -x "$build/bench/$p" ] && progs+=("$build/bench/$p")
done
if [ ${#progs[@]} -eq 0 ]; then
  echo "run.sh: no benchmarks in $build/bench (configure with -DNTMEM_BUILD_BENCH=ON and build)" >&2
  exit 2
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$raw"
failed=()

# run PROG ARGS...: appends PROG's output to the raw log; remembers failures (a crash, a bug check).
run() {
  local prog=$1 rc
  shift
  "$prog" "${extra[@]}" "$@" >>"$raw" 2>>"$raw.stderr"
  rc=$?
  [ $rc -eq 0 ] || failed+=("$(basename "$prog") $* (exit $rc)")
}

: >"$raw.stderr"
# memory is deterministic: once per binary, each in a fresh process.
for p in "${progs[@]}"; do
  echo "run.sh: memory: $(basename "$p")" >&2
  run "$p" -r 1 memory
done
# Timed workloads: one round per process; binaries and workloads alternate, and the order of the
# binaries rotates each round, so slow drifts in machine load fall on every allocator alike.
for ((r = 0; r < rounds; r++)); do
  echo "run.sh: round $((r + 1))/$rounds" >&2
  for w in pairs threads cross; do
    for ((i = 0; i < ${#progs[@]}; i++)); do
      run "${progs[$(((i + r) % ${#progs[@]}))]}" -r 1 "$w"
    done
  done
  [ -x "$build/bench/bench_slist" ] && run "$build/bench/bench_slist" -r 1
  [ -x "$build/bench/bench_lookaside" ] && run "$build/bench/bench_lookaside" -r 1 lapairs lathreads
  [ -x "$build/bench/bench_seh" ] && run "$build/bench/bench_seh" -r 1
  [ -x "$build/bench/bench_pager" ] && run "$build/bench/bench_pager" -r 1
  [ -x "$build/bench/bench_virtual" ] && run "$build/bench/bench_virtual" -r 1
  [ -x "$build/bench/bench_string" ] && run "$build/bench/bench_string" -r 1
  # One process per heap workload, so a crash in one (a heap corruption report) costs only its row.
  if [ -x "$build/bench/bench_heap" ]; then
    for w in heap_pairs heap_larson heap_frag; do run "$build/bench/bench_heap" -r 1 "$w"; done
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Medians over the rounds, one line per measurement: "<workload> <allocator> <median> <unit>".
medians=$(grep -hE '^(pairs|threads1|threads2|cross|churn|slack|header|slist_pair|slist_cas|lapairs|lathreads1|lathreads2|seh_try|seh_av|seh_vectored|pager_pagein|vm_alloc|vm_query|vm_guard|heap_pairs|heap_larson|heap_frag|heap_compact|str_cmp_ci|str_upcase) ' "$raw" |
  awk '{ print $1, $2, $3, $4 }' | sort -k1,1 -k2,2 -k3,3g |
  awk '{ k = $1 " " $2; if (!(k in n)) order[++m] = k; n[k]++; v[k, n[k]] = $3; u[k] = $4 }
       END { for (i = 1; i <= m; i++) { k = order[i]; c = n[k]
               med = c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
               printf "%s %.4g %s\n", k, med, u[k] } }')

declare -A M
while read -r w a v u; do
  [ -n "$w" ] && M["$w $a"]=$v
done <<<"$medians"

allocs=()
for a in ntmem mimalloc glibc jemalloc tcmalloc; do
  grep -q " $a " <<<"$medians" && allocs+=("$a")
done
# Scaling from the medians of 1 and 2 threads (ratio of medians, not median of ratios); and the cost
# of a pair beyond the loop itself, which the control (per-thread lists, nothing shared) measures.
ctl_pairs=${M["pairs control"]:-}
for a in "${allocs[@]}" control; do
  t1=${M["threads1 $a"]:-} t2=${M["threads2 $a"]:-} p=${M["pairs $a"]:-}
  if [ -n "$t1" ] && [ -n "$t2" ]; then
    M["threads_scaling $a"]=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3g", b / a }')
  fi
  t1=${M["lathreads1 $a"]:-} t2=${M["lathreads2 $a"]:-}
  if [ -n "$t1" ] && [ -n "$t2" ]; then
    M["lathreads_scaling $a"]=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3g", b / a }')
  fi
  if [ -n "$p" ] && [ -n "$ctl_pairs" ] && [ "$a" != control ]; then
    M["pairs_net $a"]=$(awk -v a="$p" -v c="$ctl_pairs" 'BEGIN { printf "%.3g", a - c }')
  fi
done
ctl_scaling=${M["threads_scaling control"]:-}
for a in "${allocs[@]}"; do
  sc=${M["threads_scaling $a"]:-}
  if [ -n "$sc" ] && [ -n "$ctl_scaling" ]; then
    M["threads_rel $a"]=$(awk -v a="$sc" -v c="$ctl_scaling" 'BEGIN { printf "%.3g", a / c }')
  fi
done

calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# verdict EXPR: "met" or "missed" for an awk condition; reporting only, never an exit status.
verdict() { awk "BEGIN { print (($1) ? \"met\" : \"missed\") }"; }

# cell METRIC ALLOCATOR: the median, and for peers its ratio to ntmem's (peer / ntmem).
cell() {
  local v=${M["$1 $2"]:-} b=${M["$1 ntmem"]:-}
  if [ -z "$v" ]; then
    printf -- '-'
  elif [ "$2" = ntmem ] || [ -z "$b" ]; then
    printf '%s' "$v"
  else
    awk -v v="$v" -v b="$b" 'BEGIN { if (b > 0) printf "%s (%.2fx)", v, v / b; else printf "%s", v }'
  fi
}

target() {
  local n=${M["$1 ntmem"]:-} mi=${M["$1 mimalloc"]:-} gl=${M["$1 glibc"]:-}
  [ -z "$n" ] && return
  case $1 in
  pairs)
    [ -n "$mi" ] && printf 'ntmem/mimalloc %s, target <= 1.5: %s; ' "$(calc "$n / $mi")" "$(verdict "$n <= 1.5 * $mi")"
    [ -n "$gl" ] && printf 'ntmem/glibc %s, target < 1: %s' "$(calc "$n / $gl")" "$(verdict "$n < $gl")" ;;
  threads_scaling)
    printf 'target >= 1.7: %s' "$(verdict "$n >= 1.7")"
    [ -n "$ctl_scaling" ] && printf '; the control reaches %s on this machine' "$ctl_scaling" ;;
  cross) [ -n "$gl" ] && printf 'ntmem/glibc %s, target <= 1: %s' "$(calc "$n / $gl")" "$(verdict "$n <= $gl")" ;;
  header) printf 'expected 16 B: %s' "$(verdict "$n == 16")" ;;
  churn) printf 'target <= 1.3: %s' "$(verdict "$n <= 1.3")" ;;
  lapairs)
    [ -n "$mi" ] && printf 'ntmem/mimalloc %s, target <= 0.5: %s; ' "$(calc "$n / $mi")" "$(verdict "$n <= 0.5 * $mi")"
    local bare=${M["lapairs control"]:-}
    [ -n "$bare" ] && printf 'bare list %s ns, ratio %s, target <= 3: %s' "$bare" "$(calc "$n / $bare")" "$(verdict "$n <= 3 * $bare")" ;;
  lathreads_scaling)
    printf 'target >= 1.7: %s' "$(verdict "$n >= 1.7")"
    [ -n "${M["lathreads_scaling control"]:-}" ] && printf '; the bare lists reach %s' "${M["lathreads_scaling control"]}" ;;
  slist_pair)
    local c=${M["slist_cas control"]:-}
    [ -n "$c" ] && printf 'bare 2x cmpxchg16b loop %s ns, ratio %s, target <= 1.2: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 1.2 * $c")" ;;
  seh_try) printf 'target <= 20 ns: %s' "$(verdict "$n <= 20")" ;;
  seh_av)
    local c=${M["seh_av control"]:-}
    [ -n "$c" ] && printf 'bare SIGSEGV+siglongjmp %s ns, ratio %s, target <= 3: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 3 * $c")" ;;
  seh_vectored)
    local c=${M["seh_vectored control"]:-}
    [ -n "$c" ] && printf 'bare SIGSEGV+mprotect+return %s ns, ratio %s, target <= 2: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 2 * $c")" ;;
  pager_pagein)
    local c=${M["pager_pagein control"]:-}
    [ -n "$c" ] && printf 'bare SIGSEGV+mprotect+pread %s ns, ratio %s, target <= 3: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 3 * $c")" ;;
  vm_alloc)
    local c=${M["vm_alloc control"]:-}
    [ -n "$c" ] && printf 'bare mmap+munmap %s ns, ratio %s, target <= 1.5: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 1.5 * $c")" ;;
  vm_query) printf 'target < 2000 ns: %s' "$(verdict "$n < 2000")" ;;
  vm_guard)
    local c=${M["vm_guard control"]:-}
    [ -n "$c" ] && printf 'bare mprotect+SIGSEGV+mprotect %s ns, ratio %s, target <= 2: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= 2 * $c")" ;;
  heap_pairs)
    [ -n "$gl" ] && printf 'ntmem/glibc %s, target < 1: %s; ' "$(calc "$n / $gl")" "$(verdict "$n < $gl")"
    [ -n "$mi" ] && printf 'ntmem/mimalloc %s, target <= 1.5: %s' "$(calc "$n / $mi")" "$(verdict "$n <= 1.5 * $mi")" ;;
  heap_larson)
    [ -n "$gl" ] && printf 'ntmem/glibc %s, target >= 1: %s' "$(calc "$n / $gl")" "$(verdict "$n >= $gl")"
    [ -n "$mi" ] && printf '; ntmem/mimalloc %s' "$(calc "$n / $mi")" ;;
  heap_frag) printf 'target <= 1.3: %s' "$(verdict "$n <= 1.3")" ;;
  heap_compact) printf 'target > 0 MB: %s' "$(verdict "$n > 0")" ;;
  str_cmp_ci | str_upcase)
    local c=${M["$1 towupper"]:-}
    [ -n "$c" ] && printf 'glibc towupper loop %s ns, ratio %s, target <= 1: %s' "$c" "$(calc "$n / $c")" "$(verdict "$n <= $c")" ;;
  esac
}

rows=(
  "pairs|pairs: ns per free+alloc, 1000 live, 16-256 B (lower is better)"
  "pairs_net|pairs beyond the loop: ns minus the control's (lower is better)"
  "threads1|threads, 1 thread: M pairs/s (higher is better)"
  "threads2|threads, 2 threads: M pairs/s, total (higher is better)"
  "threads_scaling|threads: throughput 2T / 1T (higher is better)"
  "threads_rel|threads: 2T/1T over the control's 2T/1T (1.0 = scales as the machine does)"
  "cross|cross: ns per block, alloc on one thread, free on another (lower is better)"
  "header|header bytes per block (UsedBytes growth - rounded size)"
  "slack|usable - requested bytes, mean over 16..256"
  "churn|churn: footprint / live requested bytes (lower is better)"
  "lapairs|lookaside: ns per allocate+free, one NPAGED list, 64 B (lower is better)"
  "lathreads_scaling|lookaside: two threads sharing one list, 2T / 1T (higher is better)"
  "slist_pair|SLIST push+pop pair, one thread: ns (lower is better)"
  "seh_try|SEH: enter+leave __try/__except, no exception: ns (lower is better)"
  "seh_av|SEH: NULL write caught by __except: ns (lower is better)"
  "seh_vectored|SEH: fault, vectored handler mprotects and continues: ns (lower is better)"
  "pager_pagein|pager: read of a paged-out paged-pool page, fault + page-in + resume: ns (lower is better)"
  "vm_alloc|VirtualAlloc 64 KB reserve+commit, then release: ns (lower is better)"
  "vm_query|VirtualQuery among 100,000 regions: ns (lower is better)"
  "vm_guard|guard page: VirtualProtect(PAGE_GUARD), fault, vectored continue: ns (lower is better)"
  "heap_pairs|heap: ns per HeapFree+HeapAlloc on the process heap, 1000 live, 16-512 B (lower is better)"
  "heap_larson|heap: larson-like, 2 threads swapping blocks: M free+alloc ops/s, total (higher is better)"
  "heap_frag|heap: private heap after churn, cbCommitted / live requested bytes (lower is better)"
  "heap_compact|heap: commit charge HeapCompact returns with 5% of 32 MB left live: MB (higher is better)"
  "str_cmp_ci|strings: RtlCompareUnicodeString case-insensitive, 16-80 chars equal but for case: ns (lower is better)"
  "str_upcase|strings: RtlUpcaseUnicodeString of 16-80 chars into a caller's buffer: ns (lower is better)"
)

table() {
  printf '| measurement |'
  printf ' %s |' "${allocs[@]}"
  printf ' ntmem target |\n|---|'
  printf -- '---|%.0s' "${allocs[@]}"
  printf -- '---|\n'
  local row key label a
  for row in "${rows[@]}"; do
    key=${row%%|*} label=${row#*|}
    printf '| %s |' "$label"
    for a in "${allocs[@]}"; do printf ' %s |' "$(cell "$key" "$a")"; done
    printf ' %s |\n' "$(target "$key")"
  done
}

notes() {
  echo
  echo "Timed rows: medians of $rounds rounds (one round per process; binaries, workloads and allocator"
  echo "order alternate); memory rows: one deterministic run per binary. Peer cells show value (peer / ntmem)."
  echo "ntmem, mimalloc and glibc run in one binary (bench_pool); jemalloc and tcmalloc replace malloc in"
  echo "bench_jemalloc and bench_tcmalloc."
  if [ -n "${M["threads_scaling control"]:-}" ]; then
    echo "Control (per-thread free lists, nothing shared, not a real allocator): pairs ${M["pairs control"]:-?} ns,"
    echo "the loop's own cost; threads 2T/1T ${M["threads_scaling control"]}, what the machine gave two threads"
    echo "during this run (2.0 = two whole CPUs). Read every allocator's 2T/1T against it."
  fi
  echo "Churn footprints, as each allocator can report them:"
  grep -h '^churn-detail ' "$raw" | sed -E 's/^churn-detail ([^ ]+) [^|]*\| (.*)$/- \1: \2/'
  grep -h '^header-check ' "$raw" | sed 's/^/- /'
  if grep -q '^heap_frag ' "$raw"; then
    echo "Heap rows (bench_heap): peers are glibc's malloc/free and mi_malloc/mi_free on the same sequences;"
    echo "heap_frag and heap_compact are ntmem only (HeapSummary; GlobalMemoryStatusEx's ullAvailPageFile)."
    grep -h '^heap_compact-detail ' "$raw" | tail -n 1 | sed 's/^heap_compact-detail /- last run: /'
  fi
  late=$(grep -h 'started without their threads' "$raw" | awk '{ n += $2 } END { print n + 0 }')
  [ "$late" -gt 0 ] && echo "- $late multi-thread runs started before their threads were on CPUs together (machine busy)"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs;"
  echo "load average $load_before before, $load_after after; $(date -u '+%Y-%m-%d %H:%M UTC')."
  [ ${#extra[@]} -gt 0 ] && echo "Options: ${extra[*]}"
  if [ ${#failed[@]} -gt 0 ]; then
    echo
    echo "Failed runs (see $raw.stderr):"
    printf -- '- %s\n' "${failed[@]}"
  fi
}

echo "$medians" | grep -v '^$'
for a in "${allocs[@]}" control; do
  if [ -n "${M["threads_scaling $a"]:-}" ]; then echo "threads_scaling $a ${M["threads_scaling $a"]} x"; fi
done
echo
{ table; notes; } | tee "$out"
echo
echo "run.sh: table written to $out, raw output in $raw" >&2
[ ${#failed[@]} -eq 0 ]
