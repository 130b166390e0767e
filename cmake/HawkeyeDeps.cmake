# Third-party dependencies, all from Debian 12 packages (see scripts/setup.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 QUIET CONFIG)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs quality)
find_package(tomlplusplus QUIET)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
pkg_check_modules(OPENJPEG REQUIRED IMPORTED_TARGET libopenjp2)  # KADID type 9 with the 9/7 wavelet
if(HAWKEYE_WITH_TORCH)
  find_package(Torch REQUIRED)
  # hawkeye serve's HTTP server (src/serve) and the tests' client: Debian's libcpp-httplib-dev, whose .pc
  # file carries the macros its compiled part was built with (TLS, zlib, brotli).
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()

# c10d's NCCL process group (dist layer) for CUDA builds of libtorch that ship it. The Gloo group needs no flag:
# src/dist/process_group.cpp defines USE_C10D_GLOO itself.
option(HAWKEYE_WITH_NCCL "Use c10d's ProcessGroupNCCL for CUDA tensors (needs a CUDA libtorch built with NCCL)" OFF)
if(HAWKEYE_WITH_TORCH AND HAWKEYE_WITH_NCCL)
  add_compile_definitions(USE_C10D_NCCL)
endif()
