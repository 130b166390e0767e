#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "hawkeye/core/error.h"
#include "text/utf8.h"

namespace hawkeye::text_detail {

bool parse_normal_form(std::string_view name, NormalForm& form) {
  if (name == "NFC") form = NormalForm::nfc;
  else if (name == "NFD") form = NormalForm::nfd;
  else if (name == "NFKC") form = NormalForm::nfkc;
  else if (name == "NFKD") form = NormalForm::nfkd;
  else return false;
  return true;
}

namespace {

// True when the form cannot change this valid UTF-8 run. Below U+0300 nothing composes or decomposes
// canonically (every combining mark is at or above U+0300, whose lead byte is 0xCC); compatibility forms
// change some Latin-1 characters (NBSP, superscripts), so they only skip pure ASCII.
bool unchanged_by(std::string_view run, NormalForm form) {
  const unsigned char limit = (form == NormalForm::nfc) ? 0xCC : (form == NormalForm::nfd ? 0xC3 : 0x80);
  for (char c : run) {
    if (static_cast<unsigned char>(c) >= limit) return false;
  }
  return true;
}

void map_with_utf8proc(std::string_view run, NormalForm form, std::string& out) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::nfc: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::nfd: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::nfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::nfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()), static_cast<utf8proc_ssize_t>(run.size()),
                   &mapped, static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> holder(mapped, &std::free);
  if (n < 0) {
    const ErrorCode code = (n == UTF8PROC_ERROR_NOMEM || n == UTF8PROC_ERROR_OVERFLOW) ? ErrorCode::limit_exceeded
                                                                                         : ErrorCode::internal;
    throw Error(code, std::string("unicode normalization failed on ") + std::to_string(run.size()) +
                          " bytes of text: " + utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
}

// A code point before which NFC may split the text: a starter (combining class 0) without a canonical
// decomposition that never composes with a character before it (not the second half of a canonical
// composition, not a Hangul medial vowel or final consonant). What follows such a character cannot
// change what precedes it, so only the stretches between two of them that hold some other character
// need utf8proc (UAX #15, "Detecting Normalization Forms": NFC_Quick_Check = Yes and ccc = 0).
bool nfc_boundary(char32_t cp) {
  if (cp < 0x300) return true;
  if (cp >= 0x1160 && cp <= 0x11FF) return false;  // Hangul V and T jamo compose algorithmically
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (p->combining_class != 0) return false;
  if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) return false;  // canonical decomposition
  if (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) return false;   // second of a composition
  return true;
}

void normalize_valid_run(std::string_view run, NormalForm form, std::string& out) {
  if (run.empty()) return;
  if (unchanged_by(run, form)) {
    out.append(run);
    return;
  }
  if (form != NormalForm::nfc) {
    map_with_utf8proc(run, form, out);
    return;
  }
  // NFC: copy stretches that cannot change, normalize only the segments around other characters.
  std::size_t copied = 0;     // run[0, copied) is in out
  std::size_t seg_start = 0;  // start of the current segment (at an NFC boundary)
  bool dirty = false;         // the current segment holds a character that may change
  std::size_t i = 0;
  while (i < run.size()) {
    char32_t cp = 0;
    std::size_t bad = 0;
    const auto b0 = static_cast<unsigned char>(run[i]);
    const std::size_t len = b0 < 0x80 ? (cp = b0, 1) : utf8::decode(run, i, cp, bad);
    if (nfc_boundary(cp)) {
      if (dirty) {
        out.append(run.substr(copied, seg_start - copied));
        map_with_utf8proc(run.substr(seg_start, i - seg_start), form, out);
        copied = i;
        dirty = false;
      }
      seg_start = i;
    } else {
      dirty = true;
    }
    i += len;
  }
  if (dirty) {
    out.append(run.substr(copied, seg_start - copied));
    map_with_utf8proc(run.substr(seg_start), form, out);
  } else {
    out.append(run.substr(copied));
  }
}

}  // namespace

void normalize_append(std::string_view text, NormalForm form, std::string& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t run = utf8::valid_run(text, i);
    normalize_valid_run(text.substr(i, run), form, out);
    i += run;
    if (i < text.size()) {
      char32_t cp;
      std::size_t bad = 1;
      utf8::decode(text, i, cp, bad);
      out.append(text.substr(i, bad));
      i += bad;
    }
  }
}

std::string normalize(std::string_view text, const std::vector<NormalForm>& forms) {
  std::string current(text);
  for (NormalForm f : forms) {
    std::string next;
    next.reserve(current.size() + current.size() / 8);
    normalize_append(current, f, next);
    current.swap(next);
  }
  return current;
}

}  // namespace hawkeye::text_detail
