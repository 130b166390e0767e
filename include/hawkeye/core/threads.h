// Thread settings. hawkeye decides the thread count on purpose (default: the cores this process may use)
// and hands it to every pool it uses, so OpenCV, OpenMP/BLAS and torch do not oversubscribe the machine.
#pragma once
#include <string>

namespace hawkeye {

// Cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Resolves a requested count: <= 0 means available_cores().
int resolve_thread_count(int requested);

// Applies n threads to OpenCV's pool and to OpenMP (which OpenBLAS-openmp uses). The torch layer adds
// its own intra-op setting (see hawkeye/model/runtime.h). Returns n.
int apply_base_threads(int n);

// Path of the BLAS library mapped into this process ("" if none is loaded yet), from /proc/self/maps.
std::string loaded_blas_library();

}  // namespace hawkeye
