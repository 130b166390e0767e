#include "text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hawkeye/core/error.h"

namespace hawkeye::text_detail {

namespace {

// Oniguruma's \s for Unicode text: TAB..CR, NEL and the separators (Zs, Zl, Zp).
constexpr std::string_view kSpaceItems = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<const char*>(buf));
}

}  // namespace

std::string translate_whitespace_classes(std::string_view p, const std::string& where) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 'Q') {  // \Q...\E: copy verbatim
        const std::size_t end = p.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop - 1;
        continue;
      }
      if (n == 's') {
        if (in_class) out.append(kSpaceItems);
        else out.append("[").append(kSpaceItems).append("]");
        ++i;
        continue;
      }
      if (n == 'S') {
        if (in_class) {
          throw Error(ErrorCode::unsupported,
                      where + ": \\S inside a character class is not supported (at offset " + std::to_string(i) + ")");
        }
        out.append("[^").append(kSpaceItems).append("]");
        ++i;
        continue;
      }
      out.push_back(c);
      out.push_back(n);
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        out.push_back(']');
        ++i;
      }
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:alpha:]
      const std::size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(p.substr(i, end + 2 - i));
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

std::string escape_literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern, const std::string& where) : pattern_(pattern) {
  const std::string translated = translate_whitespace_classes(pattern, where);
  auto compile = [&](uint32_t extra) {
    auto code = std::make_unique<Code>();
    int err = 0;
    PCRE2_SIZE offset = 0;
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                               PCRE2_UTF | PCRE2_UCP | extra, &err, &offset, nullptr);
    if (!code->code) {
      throw Error(ErrorCode::parse, where + ": invalid regex /" + std::string(pattern) + "/: " + pcre2_message(err) +
                                        " (near offset " + std::to_string(offset) + " of the translated pattern)");
    }
    // JIT is an optimisation: when it is unavailable the interpreter gives the same matches.
    code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
    return code;
  };
  strict_ = compile(0);
  lenient_ = compile(PCRE2_MATCH_INVALID_UTF);
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view subject, bool valid_utf8, Callback cb, void* ctx) const {
  const Code& c = valid_utf8 ? *strict_ : *lenient_;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(c.code, nullptr), &pcre2_match_data_free);
  if (!md) throw Error(ErrorCode::limit_exceeded, "out of memory for regex match data");
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const PCRE2_SIZE n = subject.size();
  const uint32_t opts = valid_utf8 ? PCRE2_NO_UTF_CHECK : 0;
  PCRE2_SIZE pos = 0;
  while (pos < n) {
    const int rc = c.jit ? pcre2_jit_match(c.code, s, n, pos, opts, md.get(), nullptr)
                         : pcre2_match(c.code, s, n, pos, opts, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      throw Error(ErrorCode::limit_exceeded, "pre-tokenizer regex /" + pattern_ + "/ failed at byte " +
                                                 std::to_string(pos) + ": " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const PCRE2_SIZE b = ov[0], e = ov[1];
    if (e > b) {
      cb(ctx, b, e);
      pos = e;
    } else {
      // An empty match: step over one character (or one invalid byte) and search again.
      pos = b + 1;
      while (pos < n && (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace hawkeye::text_detail
