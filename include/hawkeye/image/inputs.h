// The images a command line names: files as given, folders searched recursively for image files, and
// shell-style patterns (*, ?, [...]) expanded by hawkeye itself, so quoted globs work too. One helper for
// every command that takes images (score, metric, the Python module); torch-free (base layer).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hawkeye {

// Expands each argument, in order:
//  - an existing directory: every file below it with an image extension (has_image_extension), sorted by
//    path, symbolic links to folders not followed; none found -> Error(not_found) naming the folder;
//  - an argument with *, ? or [ that is not an existing file: a pattern (glob(3), per path component, no **);
//    matching files with an image extension and matching folders (expanded as above), sorted; nothing
//    matched -> Error(not_found) naming the pattern;
//  - anything else: kept as is (a missing or unreadable file becomes a load error of that image later).
// No argument -> Error(invalid_argument).
std::vector<std::filesystem::path> expand_image_inputs(const std::vector<std::string>& arguments);

// The entries of a list of files (`--files-from FILE`, or "-" for standard input): one path per line, read as
// bytes (a name may hold any byte but newline and NUL), a trailing "\r" dropped, empty lines skipped. Each
// entry is then an argument of expand_image_inputs. Errors: not_found / io (the list), limit_exceeded (more
// than 100 million entries or a line over 64 KiB).
std::vector<std::string> read_path_list(const std::string& file_or_dash);

// The arguments followed by the entries of `files_from` (read_path_list; "" = none), for expand_image_inputs.
// Errors: as read_path_list; invalid_argument when the list is empty or nothing at all is given.
std::vector<std::string> arguments_and_list(const std::vector<std::string>& arguments, const std::string& files_from);

}  // namespace hawkeye
