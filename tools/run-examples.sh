#!/usr/bin/env bash
# run-examples.sh - `make run`: runs the seeds' samples against ntmem and prints each pool table at exit.
set -u
build=${1:-build}
status=0
for name in allocation_snippets LinkListTest LookasideTest RtTest DisplayItsProcessName ProbeTest CommitOnDemand PrivateHeaps PagingDemo; do
  exe="$build/$name"
  echo "=== $name"
  if [ ! -x "$exe" ]; then echo "missing $exe (build first)"; status=1; continue; fi
  NTMEM_POOL_REPORT=1 "$exe" 2>&1 || status=1
  echo
done
exit $status
