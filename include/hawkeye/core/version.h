#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hawkeye {
const char* version();       // "0.1.0"
const char* git_revision();  // short hash of the build's source tree, "-dirty" when modified, or "unknown"

// share/hawkeye of the installation this library is part of, found at run time from where the library was
// loaded (so `cmake --install --prefix P`, or an installation moved elsewhere, finds P/share/hawkeye), or an
// empty path when there is none (the library in the build tree).
std::filesystem::path installed_data_dir();

// Folder of hawkeye's data files (KADID label table, default model lookup, ...): $HAWKEYE_RESOURCE_DIR,
// else the source tree's resources/ (build tree), else installed_data_dir(), else the configured
// <CMAKE_INSTALL_PREFIX>/share/hawkeye.
std::filesystem::path resource_dir();

// Folders searched for a model given by name (`--model hawkeye-tiny`), in order: the entries of
// $HAWKEYE_MODEL_PATH (colon-separated), the source tree's models/ (build tree), installed_data_dir()/models,
// the configured <CMAKE_INSTALL_PREFIX>/share/hawkeye/models.
std::vector<std::filesystem::path> model_search_path();
}  // namespace hawkeye
