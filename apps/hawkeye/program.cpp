// The hawkeye program proper, as a library that apps/hawkeye/main.cpp loads after it has set up the process
// environment (include/hawkeye/core/openmp_wait.h explains why it is not linked into the executable).
#include "cli.h"

extern "C" __attribute__((visibility("default"))) int hawkeye_program_main(int argc, char** argv) {
  return hawkeye::cli::run(argc, argv);
}
