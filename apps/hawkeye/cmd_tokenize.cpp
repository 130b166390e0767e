// hawkeye tokenize: text to ids (or ids to text, or a rendered IQA prompt) with a model's tokenizer,
// printed as JSON Lines, for debugging prompts.
#include <iostream>
#include <iterator>
#include <memory>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/text/byte_tokenizer.h"
#include "hawkeye/text/chat_template.h"
#include "hawkeye/text/tokenizer.h"

namespace hawkeye::cli {

namespace {

using ojson = nlohmann::ordered_json;

void print(const ojson& j) { std::cout << j.dump(-1, ' ', false, ojson::error_handler_t::replace) << "\n"; }

Tokenizer open_tokenizer(const std::string& where) {
  std::error_code ec;
  if (where == "hawkeye-byte" && !fs::exists(where, ec)) return byte_tokenizer::make_tokenizer();
  return Tokenizer::load(where);
}

// "[1, 2, 3]", "1,2,3" or "1 2 3".
std::vector<TokenId> parse_ids(const std::string& text) {
  std::vector<TokenId> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != cur.size() || v < 0 || v > Tokenizer::kMaxTokenId) {
      throw Error(ErrorCode::invalid_argument, "--decode: \"" + cur + "\" is not a token id (in \"" + text + "\")");
    }
    ids.push_back(static_cast<TokenId>(v));
    cur.clear();
  };
  for (char c : text) {
    if (c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\n') flush();
    else cur.push_back(c);
  }
  flush();
  return ids;
}

PromptSpec resolve_prompt(const std::string& value) {
  const auto names = prompt_preset_names();
  if (std::find(names.begin(), names.end(), value) != names.end()) return prompt_preset(value);
  fs::path file(value);
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= "hawkeye.json";
  if (!fs::exists(file, ec)) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::not_found, "--prompt: \"" + value + "\" is neither a preset (" + known +
                                          ") nor a hawkeye.json or model directory");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file, 16u << 20));
  } catch (const nlohmann::json::exception& e) {  // parse_error, out_of_range (2e308)
    throw Error(ErrorCode::parse, file.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("prompt")) {
    throw Error(ErrorCode::invalid_argument, file.string() + ": has no \"prompt\" section");
  }
  return parse_prompt_spec(j["prompt"], file.string() + ": prompt");
}

}  // namespace

void add_tokenize_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string tokenizer;
    std::vector<std::string> texts;
    bool decode = false;
    bool no_special = false;
    bool skip_special = false;
    bool tokens = false;
    std::string prompt;
    std::size_t image_tokens = 1;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("tokenize", "Encode text to token ids, decode ids, or render an IQA prompt (JSON Lines)");
  sub->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer.json, a model directory holding one, or hawkeye-byte (the built-in byte tokenizer)")
      ->required();
  // TEXT arguments are taken raw from the leftovers: a declared positional would let CLI11 split an
  // argument written "[a,b]" into two.
  sub->allow_extras();
  sub->fallthrough(false);  // leftovers stay here (global options go before `tokenize`)
  sub->footer("TEXT...: texts to encode, or id lists with --decode; \"-\" reads standard input; after \"--\" every "
              "argument is a text (one that starts with '-' too)");
  sub->add_flag("--decode", opts->decode, "Decode id lists (\"1,2,3\", \"1 2 3\" or \"[1,2,3]\") to text");
  sub->add_flag("--no-special", opts->no_special,
                "Encode special tokens written in the text as plain text (as for untrusted text)");
  sub->add_flag("--skip-special", opts->skip_special, "Leave special tokens out of decoded text");
  sub->add_flag("--tokens", opts->tokens, "Also print each id's token string");
  sub->add_option("--prompt", opts->prompt,
                  "Render an IQA prompt instead: a preset (qhawkeye-train, qhawkeye-infer), a hawkeye.json or a "
                  "model directory");
  sub->add_option("--image-tokens", opts->image_tokens, "Visual tokens of the image in --prompt (default 1)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  sub->callback([opts, sub, &ctx] {
    ctx.prepare(false);
    for (const std::string& a : sub->remaining()) {
      if (a.size() > 1 && a[0] == '-') {
        throw Error(ErrorCode::invalid_argument, "tokenize: unknown option " + a + " (a text that starts with '-' goes after \"--\")");
      }
      opts->texts.push_back(a);
    }
    opts->texts.insert(opts->texts.end(), ctx.texts_after_double_dash.begin(), ctx.texts_after_double_dash.end());
    const Tokenizer tok = open_tokenizer(opts->tokenizer);
    auto token_list = [&](const std::vector<TokenId>& ids) {
      ojson list = ojson::array();
      for (TokenId id : ids) list.push_back(tok.id_to_token(id).value_or(""));
      return list;
    };
    if (!opts->prompt.empty()) {
      if (!opts->texts.empty()) throw Error(ErrorCode::invalid_argument, "--prompt takes no TEXT arguments");
      const PromptSpec spec = resolve_prompt(opts->prompt);
      const ChatFormat format = ChatFormat::named(spec.chat_format);
      const auto messages = iqa_conversation(spec);
      const std::size_t counts[] = {opts->image_tokens};
      const RenderedPrompt r = render_chat(tok, format, messages, counts, true);
      ojson j;
      j["prompt"] = prompt_spec_to_json(spec);
      j["text"] = render_chat_text(format, messages, true, counts);
      j["count"] = r.ids.size();
      j["ids"] = r.ids;
      ojson images = ojson::array();
      for (const auto& im : r.images) images.push_back({{"first", im.first}, {"count", im.count}});
      j["images"] = images;
      j["image_independent_prefix"] = r.image_independent_prefix;
      if (opts->tokens) j["tokens"] = token_list(r.ids);
      print(j);
      ctx.exit_code = kExitOk;
      return;
    }
    if (opts->texts.empty()) throw Error(ErrorCode::invalid_argument, "give TEXT arguments (or \"-\" for standard input)");
    for (const std::string& arg : opts->texts) {
      const std::string text =
          arg == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()) : arg;
      ojson j;
      if (opts->decode) {
        const auto ids = parse_ids(text);
        j["ids"] = ids;
        j["text"] = tok.decode(ids, opts->skip_special);
        if (opts->tokens) j["tokens"] = token_list(ids);
      } else {
        const auto ids = tok.encode(text, !opts->no_special);
        j["text"] = repair_utf8(text);
        j["count"] = ids.size();
        j["ids"] = ids;
        if (opts->tokens) j["tokens"] = token_list(ids);
      }
      print(j);
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
