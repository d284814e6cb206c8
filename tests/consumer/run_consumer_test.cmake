# Installs the built vkattn into a scratch prefix, then configures, builds and runs tests/consumer
# against it: proof that find_package(vkattn) + vkattn::vkattn works for users. Runs the README's example
# (app), the C API's example (c_app: once from the CMake package, once compiled by `cc` with nothing
# but `pkg-config --cflags --libs vkattn` from the installed vkattn.pc) and an application that records vkattn into its own command buffer under synchronization
# validation (embedding_example; needs glslangValidator and the validation layer).
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/app)
run(${WORK_DIR}/build/embedding_example)
run(${WORK_DIR}/build/c_app)

# The same C program built without CMake's package: the C compiler and the installed vkattn.pc only.
find_program(PKG_CONFIG NAMES pkg-config REQUIRED)
find_program(C_COMPILER NAMES cc gcc clang REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${WORK_DIR}/prefix/lib/pkgconfig:${WORK_DIR}/prefix/lib64/pkgconfig:$ENV{PKG_CONFIG_PATH}")
foreach(what cflags libs)
  execute_process(COMMAND ${PKG_CONFIG} --${what} vkattn OUTPUT_VARIABLE flags_${what} RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --${what} vkattn failed (${rc})")
  endif()
  separate_arguments(flags_${what} UNIX_COMMAND "${flags_${what}}")
endforeach()
message(STATUS "pkg-config vkattn: ${flags_cflags} ${flags_libs}")
run(${C_COMPILER} -std=c99 -Wall -Wextra -pedantic -Werror ${flags_cflags} ${SOURCE_DIR}/tests/consumer/c_app.c
    -o ${WORK_DIR}/c_app_pkgconfig ${flags_libs} -lm)
run(${WORK_DIR}/c_app_pkgconfig)
