# GPU build (-DHAWKEYE_CUDA=ON): the same sources compiled against a CUDA-enabled libtorch 2.x, found with
#   cmake -S . -B build-cuda -G Ninja -DHAWKEYE_CUDA=ON -DCMAKE_PREFIX_PATH=/path/to/libtorch/share/cmake
# (a libtorch download, or a pip torch's `python3 -c "import torch; print(torch.utils.cmake_prefix_path)"`).
# Included after find_package(Torch). API differences between libtorch 1.13 and 2.x are handled in the
# sources with TORCH_VERSION_MAJOR/MINOR (torch/version.h), never with separate files.
if(NOT HAWKEYE_CUDA)
  return()
endif()
if(NOT Torch_FOUND)
  message(FATAL_ERROR "HAWKEYE_CUDA=ON: libtorch was not found; set CMAKE_PREFIX_PATH to a CUDA libtorch's share/cmake")
endif()
if(Torch_VERSION VERSION_LESS 2.0)
  message(FATAL_ERROR "HAWKEYE_CUDA=ON needs libtorch 2.x with CUDA; found ${Torch_VERSION} at ${Torch_DIR} "
                      "(Debian's libtorch is CPU-only): point CMAKE_PREFIX_PATH at a CUDA libtorch's share/cmake")
endif()
if(NOT TARGET torch_cuda AND NOT TORCH_CUDA_LIBRARIES)
  message(FATAL_ERROR "HAWKEYE_CUDA=ON: the libtorch at ${Torch_DIR} has no CUDA support (no torch_cuda library)")
endif()
# hawkeye links system libraries (OpenCV, spdlog, fmt) built with the C++11 ABI; a libtorch built with the
# old ABI cannot share std::string with them.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "HAWKEYE_CUDA=ON: ${Torch_DIR} is a pre-C++11-ABI libtorch; use a cxx11-ABI build "
                      "(libtorch-cxx11-abi-shared-with-deps, or pip torch >= 2.7)")
endif()
separate_arguments(hawkeye_torch_cxx_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
add_compile_options(${hawkeye_torch_cxx_flags})
add_compile_definitions(HAWKEYE_CUDA=1)
message(STATUS "hawkeye: CUDA build against libtorch ${Torch_VERSION} (${Torch_DIR})")
