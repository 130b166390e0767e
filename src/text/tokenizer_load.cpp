// tokenizer.json → Tokenizer::Impl. Every field is checked; an error names the file and the field
// ("tokenizer.json: model.merges[17]: ...") so a broken file can be fixed by hand.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "hawkeye/core/error.h"
#include "text/byte_level.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace hawkeye::text_detail {

namespace {

using json = nlohmann::json;

// GPT-2's pre-tokenizer pattern, what ByteLevel with use_regex = true splits with.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string show(std::string_view s) {
  std::string q = json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (q.size() > 80) q = q.substr(0, 76) + "...\"";
  return q;
}

std::string describe(const json& v) {
  std::string d = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (d.size() > 60) d = d.substr(0, 56) + " ...";
  return std::string(v.type_name()) + " " + d;
}

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(ErrorCode code, const std::string& path, const std::string& what) const {
    throw Error(code, source_ + ": " + (path.empty() ? "" : path + ": ") + what);
  }
  [[noreturn]] void bad(const std::string& path, const std::string& what) const {
    fail(ErrorCode::corrupt_data, path, what);
  }

  const json* find(const json& obj, const std::string& path, const char* key) const {
    if (!obj.is_object()) bad(path, "expected an object, got " + describe(obj));
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  const json& need(const json& obj, const std::string& path, const char* key) const {
    const json* v = find(obj, path, key);
    if (!v) bad(join(path, key), "missing");
    return *v;
  }
  static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

  bool get_bool(const json& obj, const std::string& path, const char* key, bool fallback) const {
    const json* v = find(obj, path, key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_boolean()) bad(join(path, key), "expected true or false, got " + describe(*v));
    return v->get<bool>();
  }
  std::string get_string(const json& obj, const std::string& path, const char* key) const {
    const json& v = need(obj, path, key);
    if (!v.is_string()) bad(join(path, key), "expected a string, got " + describe(v));
    return v.get<std::string>();
  }
  TokenId get_id(const json& v, const std::string& path) const {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(Tokenizer::kMaxTokenId)) {
      return static_cast<TokenId>(v.get<std::uint64_t>());
    }
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= Tokenizer::kMaxTokenId) {
      return static_cast<TokenId>(v.get<std::int64_t>());
    }
    bad(path, "a token id must be an integer in [0, " + std::to_string(Tokenizer::kMaxTokenId) + "], got " +
                  describe(v));
  }

  // A vocabulary string in the ByteLevel alphabet ("Ġthe") to its raw bytes (" the").
  bool alphabet_to_bytes(std::string_view token, std::string& bytes, char32_t& offending) const {
    bytes.clear();
    std::size_t i = 0;
    while (i < token.size()) {
      char32_t cp;
      std::size_t bad_len;
      const std::size_t n = utf8::decode(token, i, cp, bad_len);
      if (n == 0) {
        offending = 0xFFFD;
        return false;
      }
      const int b = kByteLevel.byte_of(cp);
      if (b < 0) {
        offending = cp;
        return false;
      }
      bytes.push_back(static_cast<char>(b));
      i += n;
    }
    return true;
  }

  std::shared_ptr<const Tokenizer::Impl> load(std::string_view text);

 private:
  void load_normalizer(const json& j, const std::string& path, std::vector<NormalForm>& out) const;
  void load_pre_tokenizer(const json& j, const std::string& path, std::vector<PreTokenizerStep>& out,
                          bool& byte_level) const;
  void load_model(const json& model, Tokenizer::Impl& impl) const;
  void load_added_tokens(const json& root, Tokenizer::Impl& impl) const;
  void check_decoder_and_post_processor(const json& root) const;
  // Ids index dense tables, so a few huge ids must not cost gigabytes: ids must stay below this.
  void check_density(TokenId id, const std::string& path) const {
    if (static_cast<std::size_t>(id) >= id_table_limit_) {
      bad(path, "id " + std::to_string(id) + " is too large for a vocabulary of " + std::to_string(token_count_) +
                    " tokens (ids must stay below 4 x tokens + 65536 = " + std::to_string(id_table_limit_) + ")");
    }
  }
  std::size_t token_count_ = 0;
  std::size_t id_table_limit_ = 0;
  static void build_matcher(const Tokenizer::Impl& impl, bool normalized, AddedTokenMatcher& m);

  std::string source_;
};

// Parses JSON, refusing duplicate object keys (nlohmann would silently keep the last one) and naming
// the path of the duplicate.
json parse_strict(std::string_view text, const std::string& source) {
  struct Frame {
    bool object;
    std::string key;
    std::size_t index = 0;
    std::unordered_set<std::string> keys;
  };
  std::vector<Frame> frames;
  auto path_of = [&frames]() {
    std::string p;
    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
      if (frames[i].object) {
        if (!p.empty()) p.push_back('.');
        p.append(frames[i].key);
      } else {
        p.push_back('[');
        p.append(std::to_string(frames[i].index));
        p.push_back(']');
      }
    }
    return p;
  };
  auto element_done = [&frames]() {
    if (!frames.empty() && !frames.back().object) ++frames.back().index;
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: frames.push_back(Frame{true, {}, 0, {}}); break;
      case json::parse_event_t::array_start: frames.push_back(Frame{false, {}, 0, {}}); break;
      case json::parse_event_t::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          const std::string where = path_of();
          throw Error(ErrorCode::corrupt_data,
                      source + ": " + (where.empty() ? "" : where + ": ") + "duplicate key " + show(f.key));
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames.pop_back();
        element_done();
        break;
      case json::parse_event_t::value: element_done(); break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 2e308
    throw Error(ErrorCode::parse, source + ": invalid JSON: " + e.what());
  }
}

void Loader::load_normalizer(const json& j, const std::string& path, std::vector<NormalForm>& out) const {
  if (j.is_null()) return;
  const std::string type = get_string(j, path, "type");
  if (type == "Sequence") {
    const json& list = need(j, path, "normalizers");
    if (!list.is_array()) bad(path + ".normalizers", "expected an array, got " + describe(list));
    for (std::size_t i = 0; i < list.size(); ++i) {
      load_normalizer(list[i], path + ".normalizers[" + std::to_string(i) + "]", out);
    }
    return;
  }
  NormalForm form;
  if (!parse_normal_form(type, form)) {
    fail(ErrorCode::unsupported, path + ".type",
         show(type) + " is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
  out.push_back(form);
}

void Loader::load_pre_tokenizer(const json& j, const std::string& path, std::vector<PreTokenizerStep>& out,
                                bool& byte_level) const {
  if (j.is_null()) return;
  const std::string type = get_string(j, path, "type");
  if (type == "Sequence") {
    const json& list = need(j, path, "pretokenizers");
    if (!list.is_array()) bad(path + ".pretokenizers", "expected an array, got " + describe(list));
    for (std::size_t i = 0; i < list.size(); ++i) {
      load_pre_tokenizer(list[i], path + ".pretokenizers[" + std::to_string(i) + "]", out, byte_level);
    }
    return;
  }
  PreTokenizerStep step;
  if (type == "Split") {
    step.kind = PreTokenizerStep::Kind::split;
    const json& pattern = need(j, path, "pattern");
    const std::string ppath = path + ".pattern";
    std::string regex;
    if (const json* r = find(pattern, ppath, "Regex")) {
      if (!r->is_string()) bad(ppath + ".Regex", "expected a string, got " + describe(*r));
      regex = r->get<std::string>();
    } else if (const json* s = find(pattern, ppath, "String")) {
      if (!s->is_string()) bad(ppath + ".String", "expected a string, got " + describe(*s));
      regex = escape_literal(s->get<std::string>());
    } else {
      bad(ppath, "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    if (regex.empty()) bad(ppath, "the pattern is empty");
    const std::string behavior = get_string(j, path, "behavior");
    if (behavior == "Removed") step.remove_matches = true;
    else if (behavior != "Isolated") {
      fail(ErrorCode::unsupported, path + ".behavior", show(behavior) + " is not supported (supported: Isolated, Removed)");
    }
    if (get_bool(j, path, "invert", false)) fail(ErrorCode::unsupported, path + ".invert", "true is not supported");
    step.regex = std::make_unique<Regex>(regex, source_ + ": " + ppath);
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::byte_level;
    byte_level = true;
    // Hugging Face's defaults when a flag is absent: add_prefix_space = true, use_regex = true.
    step.add_prefix_space = get_bool(j, path, "add_prefix_space", true);
    if (get_bool(j, path, "use_regex", true)) step.regex = std::make_unique<Regex>(kGpt2Pattern, "GPT-2 pattern");
  } else {
    fail(ErrorCode::unsupported, path + ".type",
         show(type) + " is not supported (supported: Split, ByteLevel, Sequence)");
  }
  out.push_back(std::move(step));
}

void Loader::check_decoder_and_post_processor(const json& root) const {
  const json* dec = find(root, "", "decoder");
  if (!dec || dec->is_null()) bad("decoder", "missing; a byte-level BPE tokenizer needs {\"type\": \"ByteLevel\"}");
  auto is_byte_level = [&](const json& j, const std::string& path) {
    return get_string(j, path, "type") == "ByteLevel";
  };
  if (!is_byte_level(*dec, "decoder")) {
    fail(ErrorCode::unsupported, "decoder.type",
         show(get_string(*dec, "decoder", "type")) + " is not supported (hawkeye decodes byte-level BPE: ByteLevel)");
  }
  if (const json* pp = find(root, "", "post_processor"); pp && !pp->is_null()) {
    // ByteLevel's post-processing only trims offsets; it never changes ids.
    if (!is_byte_level(*pp, "post_processor")) {
      fail(ErrorCode::unsupported, "post_processor.type",
           show(get_string(*pp, "post_processor", "type")) +
               " is not supported (it would add tokens around the text; supported: ByteLevel or null)");
    }
  }
  for (const char* key : {"truncation", "padding"}) {
    if (const json* v = find(root, "", key); v && !v->is_null()) {
      fail(ErrorCode::unsupported, key, "must be null (hawkeye never truncates or pads while encoding)");
    }
  }
}

void Loader::load_model(const json& model, Tokenizer::Impl& impl) const {
  const std::string type = get_string(model, "model", "type");
  if (type != "BPE") {
    fail(ErrorCode::unsupported, "model.type", show(type) + " is not supported (hawkeye reads byte-level BPE)");
  }
  if (const json* d = find(model, "model", "dropout"); d && !d->is_null()) {
    if (!d->is_number()) bad("model.dropout", "expected null or a number, got " + describe(*d));
    if (d->get<double>() != 0.0) {
      fail(ErrorCode::unsupported, "model.dropout", "BPE dropout makes encoding random; it must be null or 0");
    }
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const json* v = find(model, "model", key); v && !v->is_null()) {
      if (!v->is_string()) bad(join("model", key), "expected null or a string, got " + describe(*v));
      if (!v->get<std::string>().empty()) fail(ErrorCode::unsupported, join("model", key), "must be empty for byte-level BPE");
    }
  }
  if (const json* u = find(model, "model", "unk_token"); u && !u->is_null() && !u->is_string()) {
    bad("model.unk_token", "expected null or a string, got " + describe(*u));
  }
  get_bool(model, "model", "fuse_unk", false);     // type-checked; no effect: every byte has a token
  get_bool(model, "model", "byte_fallback", false);
  const bool ignore_merges = get_bool(model, "model", "ignore_merges", false);

  // Vocabulary.
  const json& vocab = need(model, "model", "vocab");
  if (!vocab.is_object()) bad("model.vocab", "expected an object {token: id}, got " + describe(vocab));
  if (vocab.empty()) bad("model.vocab", "is empty");
  TokenIndex index;
  index.reserve(vocab.size());
  std::vector<std::pair<TokenId, std::string>> by_id;
  by_id.reserve(vocab.size());
  TokenId max_id = -1;
  std::string bytes;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string path = "model.vocab[" + show(it.key()) + "]";
    const TokenId id = get_id(it.value(), path);
    check_density(id, path);
    char32_t off = 0;
    if (it.key().empty()) bad(path, "an empty token");
    if (!alphabet_to_bytes(it.key(), bytes, off)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(off));
      bad(path, std::string("character ") + buf + " is not in the ByteLevel alphabet (is this a byte-level BPE vocabulary?)");
    }
    index.emplace(bytes, id);
    by_id.emplace_back(id, it.key());
    max_id = std::max(max_id, id);
  }
  impl.model_vocab_size = vocab.size();
  impl.id_bytes.assign(static_cast<std::size_t>(max_id) + 1, std::string());
  impl.id_kind.assign(static_cast<std::size_t>(max_id) + 1, Tokenizer::Impl::kUnused);
  std::vector<const std::string*> owner(static_cast<std::size_t>(max_id) + 1, nullptr);
  for (const auto& [id, token] : by_id) {
    if (owner[id]) bad("model.vocab", "id " + std::to_string(id) + " is used by both " + show(*owner[id]) + " and " + show(token));
    owner[id] = &token;
  }
  for (const auto& [b, id] : index) {
    impl.id_bytes[id] = b;
    impl.id_kind[id] = Tokenizer::Impl::kModel;
  }
  std::array<TokenId, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    const auto it = index.find(std::string(1, static_cast<char>(b)));
    if (it == index.end()) {
      std::string shown;
      utf8::append(shown, kByteLevel.byte_to_char[b]);
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02X", b);
      bad("model.vocab", std::string("no token for byte ") + buf + " (" + show(shown) +
                             "); a byte-level vocabulary needs all 256 byte tokens");
    }
    byte_ids[b] = it->second;
  }

  // Merges, in rank order: "a b" strings or ["a", "b"] pairs.
  const json& merges = need(model, "model", "merges");
  if (!merges.is_array()) bad("model.merges", "expected an array, got " + describe(merges));
  std::vector<BpeModel::Merge> list;
  list.reserve(merges.size());
  std::unordered_map<std::uint64_t, std::size_t> seen;
  seen.reserve(merges.size());
  std::string left, right, a_bytes, b_bytes;
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const std::string path = "model.merges[" + std::to_string(r) + "]";
    const json& m = merges[r];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const std::size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos) {
        bad(path, "expected two tokens separated by one space, got " + show(s));
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
      if (left.empty() || right.empty()) bad(path, "a merge of an empty token");
    } else {
      bad(path, "expected \"a b\" or [\"a\", \"b\"], got " + describe(m));
    }
    char32_t off = 0;
    auto lookup = [&](const std::string& tok, std::string& raw) -> TokenId {
      if (!alphabet_to_bytes(tok, raw, off)) bad(path, show(tok) + " is not in model.vocab");
      auto it = index.find(raw);
      if (it == index.end()) bad(path, show(tok) + " is not in model.vocab");
      return it->second;
    };
    const TokenId a = lookup(left, a_bytes);
    const TokenId b = lookup(right, b_bytes);
    auto res = index.find(a_bytes + b_bytes);
    if (res == index.end()) bad(path, "the merged token " + show(left + right) + " is not in model.vocab");
    const std::uint64_t key = (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b);
    auto [pos, inserted] = seen.emplace(key, r);
    if (!inserted) bad(path, "duplicate of model.merges[" + std::to_string(pos->second) + "] (" + show(left + " " + right) + ")");
    list.push_back({a, b, res->second});
  }
  impl.bpe = std::make_unique<BpeModel>(std::move(index), byte_ids, std::move(list), ignore_merges);
}

void Loader::load_added_tokens(const json& root, Tokenizer::Impl& impl) const {
  const json* list = find(root, "", "added_tokens");
  if (!list || list->is_null()) return;
  if (!list->is_array()) bad("added_tokens", "expected an array, got " + describe(*list));
  std::string bytes;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    const json& t = (*list)[i];
    AddedToken tok;
    tok.id = get_id(need(t, path, "id"), path + ".id");
    check_density(tok.id, path + ".id");
    tok.content = get_string(t, path, "content");
    if (tok.content.empty()) bad(path + ".content", "is empty");
    tok.special = get_bool(t, path, "special", false);
    tok.single_word = get_bool(t, path, "single_word", false);
    tok.lstrip = get_bool(t, path, "lstrip", false);
    tok.rstrip = get_bool(t, path, "rstrip", false);
    tok.normalized = get_bool(t, path, "normalized", !tok.special);
    if (impl.added_by_content.count(tok.content)) {
      bad(path + ".content", show(tok.content) + " is already added_tokens[" +
                                 std::to_string(impl.added_by_content[tok.content]) + "]");
    }
    char32_t off;
    const bool in_alphabet = alphabet_to_bytes(tok.content, bytes, off);
    if (in_alphabet) {
      if (auto it = impl.bpe->vocab().find(bytes); it != impl.bpe->vocab().end() && it->second != tok.id) {
        bad(path, show(tok.content) + " has id " + std::to_string(tok.id) + " but model.vocab gives it id " +
                      std::to_string(it->second));
      }
    }
    const auto id = static_cast<std::size_t>(tok.id);
    if (id >= impl.id_bytes.size()) {
      impl.id_bytes.resize(id + 1);
      impl.id_kind.resize(id + 1, Tokenizer::Impl::kUnused);
    }
    if (impl.id_kind[id] == Tokenizer::Impl::kModel) {
      // Allowed only when the model token is this very token (GPT-2's <|endoftext|> is both).
      if (!in_alphabet || impl.id_bytes[id] != bytes) {
        std::string model_token;
        for (unsigned char c : impl.id_bytes[id]) utf8::append(model_token, kByteLevel.byte_to_char[c]);
        bad(path + ".id", std::to_string(tok.id) + " is model.vocab token " + show(model_token) + ", not " +
                              show(tok.content));
      }
    } else if (impl.id_kind[id] != Tokenizer::Impl::kUnused) {
      bad(path + ".id", std::to_string(tok.id) + " is already used by another added token");
    }
    // Hugging Face's ByteLevel decoder maps an added token's characters through the alphabet when all
    // of them are in it, and otherwise writes its UTF-8 as is.
    impl.id_bytes[id] = in_alphabet ? bytes : tok.content;
    impl.id_kind[id] = tok.special ? Tokenizer::Impl::kAddedSpecial : Tokenizer::Impl::kAdded;
    impl.added_by_content[tok.content] = impl.added.size();
    impl.added.push_back(std::move(tok));
  }
  impl.added_index.assign(impl.id_bytes.size(), -1);
  for (std::size_t i = 0; i < impl.added.size(); ++i) impl.added_index[impl.added[i].id] = static_cast<std::int32_t>(i);
}

void Loader::build_matcher(const Tokenizer::Impl& impl, bool normalized, AddedTokenMatcher& m) {
  for (std::size_t i = 0; i < impl.added.size(); ++i) {
    const AddedToken& t = impl.added[i];
    if (t.normalized != normalized) continue;
    std::string content = normalized ? normalize(t.content, impl.normalizer) : t.content;
    if (content.empty()) continue;
    m.entries.push_back({std::move(content), i});
  }
  std::stable_sort(m.entries.begin(), m.entries.end(),
                   [](const auto& a, const auto& b) { return a.content.size() > b.content.size(); });
  for (std::size_t e = 0; e < m.entries.size(); ++e) {
    m.by_first_byte[static_cast<unsigned char>(m.entries[e].content[0])].push_back(static_cast<std::uint32_t>(e));
  }
}

std::shared_ptr<const Tokenizer::Impl> Loader::load(std::string_view text) {
  const json root = parse_strict(text, source_);
  if (!root.is_object()) bad("", "expected a JSON object at the top level, got " + describe(root));
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->source = source_;
  const json* model = find(root, "", "model");
  if (!model || model->is_null()) bad("model", "missing");
  if (!model->is_object()) bad("model", "expected an object, got " + describe(*model));
  if (const json* n = find(root, "", "normalizer")) load_normalizer(*n, "normalizer", impl->normalizer);
  bool byte_level = false;
  if (const json* p = find(root, "", "pre_tokenizer")) load_pre_tokenizer(*p, "pre_tokenizer", impl->steps, byte_level);
  if (!byte_level) {
    fail(ErrorCode::unsupported, "pre_tokenizer",
         "no ByteLevel pre-tokenizer; hawkeye reads byte-level BPE tokenizers (Qwen2, GPT-2 style)");
  }
  check_decoder_and_post_processor(root);
  const json* vocab = find(*model, "model", "vocab");
  const json* added = find(root, "", "added_tokens");
  token_count_ = (vocab && vocab->is_object() ? vocab->size() : 0) + (added && added->is_array() ? added->size() : 0);
  id_table_limit_ = 4 * token_count_ + 65536;
  load_model(*model, *impl);
  load_added_tokens(root, *impl);
  if (impl->added_index.empty()) impl->added_index.assign(impl->id_bytes.size(), -1);
  build_matcher(*impl, false, impl->raw_matcher);
  build_matcher(*impl, true, impl->normalized_matcher);
  return impl;
}

}  // namespace

std::shared_ptr<const Tokenizer::Impl> load_tokenizer_json(std::string_view json_text, const std::string& source) {
  return Loader(source).load(json_text);
}

}  // namespace hawkeye::text_detail
