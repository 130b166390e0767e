# Installs the build tree into a fresh prefix, then configures, builds and runs a tiny downstream
# project that uses find_package(hawkeye). Fails on any step.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer/project" -B "${WORK_DIR}/build"
                -G "${GENERATOR}" -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                -DWITH_TORCH=${WITH_TORCH}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
if(NOT out MATCHES "hawkeye [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "unexpected consumer output: ${out}")
endif()
# The installed executable finds its program library (lib*/hawkeye/libhawkeye_program.so) and sets OpenMP's
# wait policy before libgomp starts (include/hawkeye/core/openmp_wait.h).
execute_process(COMMAND env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "${WORK_DIR}/prefix/bin/hawkeye" --version
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "hawkeye [0-9]+\\.[0-9]+\\.[0-9]+" OR NOT out MATCHES "OpenMP wait OMP_WAIT_POLICY=PASSIVE")
  message(FATAL_ERROR "the installed hawkeye --version failed (${rc}): ${out} ${err}")
endif()
