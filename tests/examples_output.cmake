# examples_output.cmake - runs the seeds' samples and checks what they print and what the pool says.
function(run_example name out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env NTMEM_POOL_REPORT=1 ${BIN}/${name}
                  OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} exited with ${rc}:\n${stdout}${stderr}")
  endif()
  set(${out} "${stdout}${stderr}" PARENT_SCOPE)
endfunction()

function(expect text pattern what)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: expected /${pattern}/ in:\n${text}")
  endif()
endfunction()

run_example(LinkListTest out)
expect("${out}" "Begain remove from link list\n0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n" "LinkListTest prints 0..9 in insertion order")
expect("${out}" "None Paged +10 +10 +0 +0" "LinkListTest frees all ten nodes")
expect("${out}" "All pool allocations were freed" "LinkListTest leaves nothing behind")

run_example(LookasideTest out)
expect("${out}" "4321 Paged +50 +50 +0 +0" "LookasideTest: 50 blocks of tag '1234' from pool, all back after the delete")
expect("${out}" "All pool allocations were freed" "LookasideTest leaves nothing behind")

run_example(RtTest out)
expect("${out}" "The two blocks are same" "RtTest compares equal after the copy")
expect("${out}" "Tags still holding memory:\n  'None' paged: 2 allocation\\(s\\), 2080 bytes" "RtTest's two leaked buffers are reported")

run_example(allocation_snippets out)
expect("${out}" "gaTy Nonp +2 +2 +0 +0" "'MyTag' (gcc keeps its last four characters, shown in memory order) balanced")
expect("${out}" "pnyM Nonp +1 +1 +0 +0" "nonpaged sample balanced")
expect("${out}" "gpyM Paged +1 +1 +0 +0" "paged sample balanced")

run_example(DisplayItsProcessName out)
expect("${out}" "DisplayItsProc" "the process name is found at EPROCESS+0x174")
run_example(ProbeTest out)
expect("${out}" "user buffer: status 0x00000000" "ProbeForRead accepts a user buffer")
expect("${out}" "pool buffer: status 0xC0000005" "ProbeForRead of pool raises STATUS_ACCESS_VIOLATION, caught by __except")
expect("${out}" "scratch buffer used\nscratch buffer freed \\(abnormal termination: 0\\)" "__finally after a normal exit")
expect("${out}" "scratch buffer freed \\(abnormal termination: 1\\)\ncaught 0xC000009A from the failing use" "__finally runs before the outer handler")
expect("${out}" "caught the failed assertion" "a failed ASSERT raises STATUS_ASSERTION_FAILURE")
expect("${out}" "All pool allocations were freed" "ProbeTest leaves nothing behind")
message(STATUS "examples print what the seeds say")
