// The `hawkeye` executable. It links neither libtorch nor OpenMP: it prepares the process (allocator, OpenMP's
// wait policy, which libgomp reads only when it is loaded) and then loads the program proper,
// libhawkeye_program.so, from next to itself (build tree) or from <prefix>/<libdir>/hawkeye (install tree).
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hawkeye/core/openmp_wait.h"

namespace {

std::string executable_dir() {
  std::vector<char> buf(4096);
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return ".";
  std::string path(buf.data(), static_cast<std::size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed memory inside the process. By default glibc serves the large activation buffers of the
  // vision encoder with mmap and hands them back to the kernel after every batch, then pays page faults
  // to get them again: half of the encoder's time in bench/torch_rollout (bench/README.md). Heap-only
  // allocation with a high trim threshold cut system time 1.82 s -> 0.51 s scoring 45 images (1 thread),
  // at the price of a higher resident peak (870 -> 1,090 MB). HAWKEYE_MALLOC_DEFAULT=1 keeps glibc's
  // defaults. (The library leaves this to the program that uses it.)
  // One arena for all threads: a thread other than the main one otherwise gets an arena of its own, whose heaps
  // cannot hold blocks larger than their fixed size, so glibc maps those with mmap whatever M_MMAP_MAX says and
  // unmaps them when freed. `hawkeye serve` scores on such a thread: page faults on every batch, 2.94 images/s
  // at 32 concurrent requests against 17.3 with one arena (bench/serve.sh, docs/serve.md); `hawkeye score`,
  // whose loader threads allocate the decoded images, runs 0.96x the time and peaks 630 instead of 770 MB.
  if (const char* keep = std::getenv("HAWKEYE_MALLOC_DEFAULT"); !(keep && keep[0] == '1')) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_ARENA_MAX, 1);
  }
  // Before anything loads libgomp.
  hawkeye::choose_openmp_wait_policy();

  const std::string dir = executable_dir();
  const std::string candidates[] = {dir + "/libhawkeye_program.so",
                                    dir + "/../" HAWKEYE_PROGRAM_LIBDIR "/libhawkeye_program.so"};
  std::string errors;
  for (const auto& path : candidates) {
    if (access(path.c_str(), F_OK) != 0) continue;
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = dlerror();
      errors += std::string("\n  ") + (e ? e : path);
      continue;
    }
    using Main = int (*)(int, char**);
    auto run = reinterpret_cast<Main>(dlsym(lib, "hawkeye_program_main"));
    if (run == nullptr) {
      errors += "\n  " + path + ": no hawkeye_program_main";
      continue;
    }
    return run(argc, argv);
  }
  std::fprintf(stderr, "hawkeye: cannot load the program library libhawkeye_program.so (looked in %s and %s)%s\n",
               candidates[0].c_str(), candidates[1].c_str(), errors.c_str());
  return 1;
}
