#!/usr/bin/env bash
# run-examples.sh - `make run`: ntmem-run with no driver (the seeds' sample drivers and the faulty
# driver's verifier reports), then the seeds' Win32 and SEH samples, which are programs.
set -u
build=${1:-build}
status=0
echo "=== ntmem-run (bundled sample drivers)"
"$build/ntmem-run" || status=1
for name in ProbeTest CommitOnDemand PrivateHeaps PagingDemo; do
  exe="$build/$name"
  echo "=== $name"
  if [ ! -x "$exe" ]; then echo "missing $exe (build first)"; status=1; continue; fi
  NTMEM_POOL_REPORT=1 "$exe" 2>&1 || status=1
  echo
done
exit $status
