# Runs one compile-fail pair (see CMakeLists.txt, balancekit_expect_compile):
#   1. SOURCE compiles as it is (the correct form), warnings as errors;
#   2. SOURCE with -DBALANCEKIT_COMPILE_FAIL (the mistake) does not compile, and the
#      compiler's output matches ERROR, the diagnostic the mistake must produce.
# Inputs: CXX, SOURCE, ERROR, FLAGS (compiler flags joined by "|").
string(REPLACE "|" ";" FLAGS "${FLAGS}")
execute_process(COMMAND ${CXX} ${FLAGS} -fsyntax-only ${SOURCE}
                RESULT_VARIABLE ok_rc OUTPUT_VARIABLE ok_out ERROR_VARIABLE ok_out)
if(NOT ok_rc EQUAL 0)
  message(FATAL_ERROR "the correct form of ${SOURCE} does not compile:\n${ok_out}")
endif()
execute_process(COMMAND ${CXX} ${FLAGS} -DBALANCEKIT_COMPILE_FAIL -fsyntax-only ${SOURCE}
                RESULT_VARIABLE bad_rc OUTPUT_VARIABLE bad_out ERROR_VARIABLE bad_out)
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "the mistake in ${SOURCE} compiles; it must not")
endif()
string(REGEX REPLACE "[\n\t ]+" " " flat "${bad_out}")
if(NOT flat MATCHES "${ERROR}")
  message(FATAL_ERROR "the mistake in ${SOURCE} fails without the expected diagnostic\n"
                      "expected (regex): ${ERROR}\ncompiler output:\n${bad_out}")
endif()
message(STATUS "${SOURCE}: the correct form compiles; the mistake says \"${CMAKE_MATCH_0}\"")
