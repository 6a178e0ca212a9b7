# headers_compile_alone.cmake - compiles each public header as its own translation unit, C and C++,
# with the host's wchar_t and with the 16-bit one drivers use (-fshort-wchar: wdm.h's CRT block differs).
set(failed 0)
foreach(h ${HEADERS})
  foreach(wchar "" "-fshort-wchar")
    file(WRITE ${OUT}/hdr_${h}.c "#include <${h}>\nint ntmem_header_test_dummy;\n")
    execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -pedantic -Werror -Wno-multichar ${wchar}
                            -I${INCLUDE_DIR} -fsyntax-only ${OUT}/hdr_${h}.c
                    RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(SEND_ERROR "C ${wchar}: ${h} does not compile alone:\n${err}")
      set(failed 1)
    endif()
    file(WRITE ${OUT}/hdr_${h}.cpp "#include <${h}>\nint ntmem_header_test_dummy;\n")
    execute_process(COMMAND ${CXX} -std=c++17 -Wall -Wextra -pedantic -Werror -Wno-multichar ${wchar}
                            -I${INCLUDE_DIR} -fsyntax-only ${OUT}/hdr_${h}.cpp
                    RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(SEND_ERROR "C++ ${wchar}: ${h} does not compile alone:\n${err}")
      set(failed 1)
    endif()
  endforeach()
endforeach()
if(failed)
  message(FATAL_ERROR "header test failed")
endif()
message(STATUS "all public headers compile alone")
