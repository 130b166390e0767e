#include <malloc.h>

#include <cstdlib>

#include "cli.h"

int main(int argc, char** argv) {
  // Keep freed memory inside the process. By default glibc serves the large activation buffers of the
  // vision encoder with mmap and hands them back to the kernel after every batch, then pays page faults
  // to get them again: half of the encoder's time in bench/torch_rollout (bench/README.md). Heap-only
  // allocation with a high trim threshold cut system time 1.82 s -> 0.51 s scoring 45 images (1 thread),
  // at the price of a higher resident peak (870 -> 1,090 MB). HAWKEYE_MALLOC_DEFAULT=1 keeps glibc's
  // defaults. (The library leaves this to the program that uses it.)
  if (const char* keep = std::getenv("HAWKEYE_MALLOC_DEFAULT"); !(keep && keep[0] == '1')) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  return hawkeye::cli::run(argc, argv);
}
