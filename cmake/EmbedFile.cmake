# Writes OUTPUT, a C++ source defining `std::string_view NAME()` in namespace hawkeye::serve that returns the
# bytes of INPUT (the scoring page of `hawkeye serve`, web/index.html, compiled into the binary).
# Leaves OUTPUT untouched when it did not change.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# 32 bytes per line.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
string(CONCAT content "// Generated from ${INPUT} by cmake/EmbedFile.cmake: do not edit.\n#include <string_view>\n\n"
            "namespace hawkeye::serve {\nnamespace {\nconst unsigned char kBytes[${size} + 1] = {\n${bytes}0x00};\n}  // namespace\n"
            "std::string_view ${NAME}() { return {reinterpret_cast<const char*>(kBytes), ${size}}; }\n}  // namespace hawkeye::serve\n")
# file(CONFIGURE) writes only when the content changed; the bytes are hex, so nothing in them is substituted.
file(CONFIGURE OUTPUT "${OUTPUT}" CONTENT "${content}" @ONLY)
