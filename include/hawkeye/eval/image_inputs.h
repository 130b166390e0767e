// The images a command line names: files as given, folders searched recursively for image files, and
// shell-style patterns (*, ?, [...]) expanded by hawkeye itself, so quoted globs work too.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hawkeye::eval {

// Expands each argument, in order:
//  - an existing directory: every file below it with an image extension (has_image_extension), sorted by
//    path, symbolic links to folders not followed; none found -> Error(not_found) naming the folder;
//  - an argument with *, ? or [ that is not an existing file: a pattern (glob(3), per path component, no **);
//    matching files with an image extension and matching folders (expanded as above), sorted; nothing
//    matched -> Error(not_found) naming the pattern;
//  - anything else: kept as is (a missing or unreadable file becomes a load error of that image later).
// No argument -> Error(invalid_argument).
std::vector<std::filesystem::path> expand_image_inputs(const std::vector<std::string>& arguments);

}  // namespace hawkeye::eval
