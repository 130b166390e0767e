// Private: Unicode normalization (utf8proc) that tolerates invalid UTF-8. Valid runs are normalized,
// invalid bytes are kept as they are (the byte-level model encodes them as bytes).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye::text_detail {

enum class NormalForm { nfc, nfd, nfkc, nfkd };

// Parses "NFC", "NFD", "NFKC", "NFKD"; returns false for other names.
bool parse_normal_form(std::string_view name, NormalForm& form);

// Appends the normalized text to out.
void normalize_append(std::string_view text, NormalForm form, std::string& out);

// Applies the forms in order (an empty list copies the text).
std::string normalize(std::string_view text, const std::vector<NormalForm>& forms);

}  // namespace hawkeye::text_detail
