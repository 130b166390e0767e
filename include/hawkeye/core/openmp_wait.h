// How OpenMP's idle workers wait: hawkeye's choice, made before the OpenMP runtime starts.
//
// libgomp (the OpenMP runtime that torch and OpenBLAS-openmp use on Debian) reads OMP_WAIT_POLICY and
// GOMP_SPINCOUNT once, when it is loaded. Its default lets an idle worker spin for 300,000 iterations at every
// barrier before it sleeps: on a machine whose cores are shared with other jobs the spinning workers take the
// cores that the working ones need (scoring became 4-11x slower than with one thread; bench/README.md,
// "Contention"). Setting the variables from a program's main() is too late when the program links libtorch
// (libgomp is loaded and initialised before main), and glibc resets the environment after .preinit_array
// functions run. So the `hawkeye` executable links none of it: its main() calls
// choose_openmp_wait_policy() and then loads the program proper (libhawkeye_program.so, apps/hawkeye/).
//
// A program that links the hawkeye library directly cannot do this for itself; it (or whoever starts it) sets
// OMP_WAIT_POLICY=PASSIVE in the environment when it shares its cores (docs/cli.md).
#pragma once
#include <cstdlib>

namespace hawkeye {

// The wait policy hawkeye gives libgomp: idle workers sleep at once instead of spinning. Chosen from
// bench/contention.sh (bench/README.md, "Contention"): scoring 48 images beside one busy process took 6.4 s
// with it, 6.6 s with GOMP_SPINCOUNT=1000, 10.6 s with 10000 and 60 s with libgomp's default (5.8 s with
// --threads 1), and on the idle machine it was as fast as the default (4.9 s vs 5.0 s).
inline constexpr const char* kOpenMpWaitPolicy = "PASSIVE";

// Sets OMP_WAIT_POLICY=kOpenMpWaitPolicy when the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT (their
// own choice always wins; child processes inherit it). Only has an effect before libgomp is loaded. Returns
// true when it set the variable.
inline bool choose_openmp_wait_policy() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return false;
  return setenv("OMP_WAIT_POLICY", kOpenMpWaitPolicy, 0) == 0;
}

}  // namespace hawkeye
