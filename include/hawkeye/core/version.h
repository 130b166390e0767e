#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hawkeye {
const char* version();       // "0.1.0"
const char* git_revision();  // short hash of the build's source tree, "-dirty" when modified, or "unknown"

// Folder of hawkeye's data files (KADID label table, default model lookup, ...): $HAWKEYE_RESOURCE_DIR,
// else the source tree's resources/ (build tree), else the installed share/hawkeye.
std::filesystem::path resource_dir();

// Folders searched for a model given by name (`--model hawkeye-tiny`), in order: the entries of
// $HAWKEYE_MODEL_PATH (colon-separated), the source tree's models/ (build tree), the installed
// share/hawkeye/models.
std::vector<std::filesystem::path> model_search_path();
}  // namespace hawkeye
