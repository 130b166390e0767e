#include "hawkeye/text/chat_template.h"

#include <algorithm>

#include "hawkeye/core/error.h"

namespace hawkeye {

namespace {

// The Q-Hawkeye prompts (docs/method.md §1, from the reference code: grpo_am.py builds the training
// conversation as user = [image, text] with no system message; inference.py uses SYSTEM_PROMPT, whose
// triple-quoted string ends with a newline, and user = [text, image]).
constexpr std::string_view kTrainUser =
    "Please evaluate and rate this picture following the exact format specified in the instructions. The rating "
    "should be a float between 1 and 5, rounded to two decimal places. Return the final answer with the following "
    "format: <answer>The score</answer>.";
constexpr std::string_view kInferSystem =
    "You are doing the image quality assessment task. Here is the question: What is your overall rating on the "
    "quality of this picture?\n"
    "Please provide your response in the following format:\n"
    "<think>\n"
    "[Your detailed analysis of the image quality here]\n"
    "</think>\n"
    "<answer>\n"
    "[Only the numerical score here]\n"
    "</answer>\n"
    "Requirements:\n"
    "- The rating should be a float between 1 and 5, rounded to two decimal places\n"
    "- 1 represents very poor quality and 5 represents excellent quality\n"
    "- The <answer></answer> tags must contain ONLY the numerical score (e.g., 3.75), no other text\n";
constexpr std::string_view kInferUser =
    "Please evaluate and rating this picture following the exact format specified in the instructions. The rating "
    "should be a float between 1 and 5, rounded to two decimal places. Return the final answer with the following "
    "keys: final_score : The score.";

std::size_t count_images(const std::vector<ChatMessage>& messages) {
  std::size_t n = 0;
  for (const auto& m : messages) {
    for (const auto& p : m.parts) n += p.kind == ChatPart::Kind::image;
  }
  return n;
}

void check_image_tokens(std::size_t images, std::span<const std::size_t> image_tokens, bool required) {
  if (image_tokens.empty() && !required) return;
  if (image_tokens.size() != images) {
    throw Error(ErrorCode::invalid_argument, "the conversation has " + std::to_string(images) +
                                                 " image(s) but " + std::to_string(image_tokens.size()) +
                                                 " visual-token count(s) were given");
  }
  for (std::size_t i = 0; i < image_tokens.size(); ++i) {
    if (image_tokens[i] == 0) {
      throw Error(ErrorCode::invalid_argument, "image " + std::to_string(i) + " has 0 visual tokens");
    }
  }
}

// The template as a list of pieces: text, or a structural token (by content).
struct Piece {
  bool token;
  std::string_view text;
  std::size_t repeat = 1;
};

enum class Mark { none, message_start, content_begin, content_end, image };

// Walks the template, calling emit(piece, mark) for each piece in order.
template <typename Emit>
void walk_template(const ChatFormat& f, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                   std::span<const std::size_t> image_tokens, Emit&& emit) {
  static const std::string_view newline = "\n";
  static const std::string_view system_role = "system";
  std::size_t image = 0;
  auto turn = [&](std::string_view role, auto&& content) {
    emit(Piece{true, f.turn_start}, Mark::message_start, role);
    emit(Piece{false, role}, Mark::none, role);
    emit(Piece{false, newline}, Mark::none, role);
    emit(Piece{false, {}}, Mark::content_begin, role);
    content();
    emit(Piece{true, f.turn_end}, Mark::content_end, role);
    emit(Piece{false, newline}, Mark::none, role);
  };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (i == 0 && m.role != "system") {
      turn(system_role, [&] { emit(Piece{false, f.default_system}, Mark::none, system_role); });
    }
    turn(m.role, [&] {
      for (const ChatPart& p : m.parts) {
        if (p.kind == ChatPart::Kind::text) {
          emit(Piece{false, p.text}, Mark::none, m.role);
        } else {
          emit(Piece{true, f.vision_start}, Mark::none, m.role);
          const std::size_t n = image_tokens.empty() ? 1 : image_tokens[image];
          emit(Piece{true, f.image_pad, n}, Mark::image, m.role);
          emit(Piece{true, f.vision_end}, Mark::none, m.role);
          ++image;
        }
      }
    });
  }
  if (add_generation_prompt) {
    static const std::string_view assistant = "assistant";
    emit(Piece{true, f.turn_start}, Mark::none, assistant);
    emit(Piece{false, assistant}, Mark::none, assistant);
    emit(Piece{false, newline}, Mark::none, assistant);
  }
}

std::string preset_list() {
  std::string s;
  for (const auto& n : prompt_preset_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

ChatFormat ChatFormat::named(std::string_view name) {
  if (name == "qwen2.5-vl") {
    return ChatFormat{"qwen2.5-vl",       "<|im_start|>",  "<|im_end|>",     "You are a helpful assistant.",
                      "<|vision_start|>", "<|image_pad|>", "<|vision_end|>", {"<|im_end|>", "<|endoftext|>"}};
  }
  throw Error(ErrorCode::not_found, "unknown chat format \"" + std::string(name) + "\" (known: qwen2.5-vl)");
}

std::string render_chat_text(const ChatFormat& format, const std::vector<ChatMessage>& messages,
                             bool add_generation_prompt, std::span<const std::size_t> image_tokens) {
  check_image_tokens(count_images(messages), image_tokens, false);
  std::string out;
  walk_template(format, messages, add_generation_prompt, image_tokens,
                [&](const Piece& p, Mark, std::string_view) {
                  for (std::size_t k = 0; k < p.repeat; ++k) out.append(p.text);
                });
  return out;
}

RenderedPrompt render_chat(const Tokenizer& tokenizer, const ChatFormat& format,
                           const std::vector<ChatMessage>& messages, std::span<const std::size_t> image_tokens,
                           bool add_generation_prompt, bool allow_special_in_text) {
  const std::size_t images = count_images(messages);
  check_image_tokens(images, image_tokens, true);
  RenderedPrompt r;
  r.image_independent_prefix = std::string_view::npos;
  std::string pending;           // text since the last structural token, encoded as one section
  std::size_t header_bytes = 0;  // bytes of pending that belong to "ROLE\n" before a content_begin mark
  bool content_pending = false;  // the current message's content_begin is still to be located
  const TokenId vision_start = images ? tokenizer.require_id(format.vision_start) : -1;
  auto flush = [&] {
    if (pending.empty()) return;
    const std::size_t first = r.ids.size();
    tokenizer.encode_append(pending, allow_special_in_text, r.ids);
    if (content_pending) {
      // The content begins at the first id holding a byte beyond the "ROLE\n" header.
      std::size_t bytes = 0, k = first;
      while (k < r.ids.size() && bytes + tokenizer.token_bytes(r.ids[k]).size() <= header_bytes) {
        bytes += tokenizer.token_bytes(r.ids[k]).size();
        ++k;
      }
      r.messages.back().content_begin = k;
      content_pending = false;
    }
    pending.clear();
  };
  walk_template(format, messages, add_generation_prompt, image_tokens,
                [&](const Piece& p, Mark mark, std::string_view role) {
                  if (mark == Mark::content_begin) {
                    header_bytes = pending.size();
                    content_pending = true;
                    return;
                  }
                  if (!p.token) {
                    pending.append(p.text);
                    return;
                  }
                  flush();
                  if (content_pending) {  // the content starts right at this token
                    r.messages.back().content_begin = r.ids.size();
                    content_pending = false;
                  }
                  const TokenId id = tokenizer.require_id(p.text);
                  if (mark == Mark::message_start) r.messages.push_back(MessageSpan{std::string(role), r.ids.size(), 0, 0});
                  if (mark == Mark::content_end) r.messages.back().content_end = r.ids.size();
                  if (mark == Mark::image) r.images.push_back(ImagePlaceholder{r.ids.size(), p.repeat});
                  if (id == vision_start && r.image_independent_prefix == std::string_view::npos) {
                    r.image_independent_prefix = r.ids.size();
                  }
                  r.ids.insert(r.ids.end(), p.repeat, id);
                });
  flush();
  if (r.image_independent_prefix == std::string_view::npos) r.image_independent_prefix = r.ids.size();
  return r;
}

std::vector<TokenId> chat_stop_ids(const Tokenizer& tokenizer, const ChatFormat& format) {
  std::vector<TokenId> ids;
  for (const auto& t : format.stop_tokens) {
    if (auto id = tokenizer.token_to_id(t)) ids.push_back(*id);
  }
  if (ids.empty()) {
    throw Error(ErrorCode::model, tokenizer.source() + ": has none of the stop tokens of chat format " + format.name);
  }
  return ids;
}

std::vector<std::string> prompt_preset_names() { return {"qhawkeye-train", "qhawkeye-infer"}; }

PromptSpec prompt_preset(std::string_view name) {
  PromptSpec s;
  s.preset = std::string(name);
  if (name == "qhawkeye-train") {
    s.user = std::string(kTrainUser);
    s.image_position = ImagePosition::before_text;
    return s;
  }
  if (name == "qhawkeye-infer") {
    s.system = std::string(kInferSystem);
    s.user = std::string(kInferUser);
    s.image_position = ImagePosition::after_text;
    return s;
  }
  throw Error(ErrorCode::not_found, "unknown prompt preset \"" + std::string(name) + "\" (known: " + preset_list() + ")");
}

PromptSpec parse_prompt_spec(const nlohmann::json& j, const std::string& where) {
  if (j.is_string()) {
    try {
      return prompt_preset(j.get<std::string>());
    } catch (const Error& e) {
      throw Error(e.code(), where + ": " + e.what());
    }
  }
  if (!j.is_object()) {
    throw Error(ErrorCode::invalid_argument, where + ": expected a preset name or an object, got " +
                                                 std::string(j.type_name()));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::vector<std::string> known = {"preset", "chat_format", "system", "user", "image_position"};
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      throw Error(ErrorCode::invalid_argument, where + ": unknown key \"" + it.key() +
                                                   "\" (known: preset, chat_format, system, user, image_position)");
    }
  }
  auto string_at = [&](const char* key) -> std::string {
    const auto& v = j.at(key);
    if (!v.is_string()) {
      throw Error(ErrorCode::invalid_argument, where + "." + key + ": expected a string, got " + std::string(v.type_name()));
    }
    return v.get<std::string>();
  };
  PromptSpec base;
  if (j.contains("preset")) {
    try {
      base = prompt_preset(string_at("preset"));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found) throw;
      throw Error(e.code(), where + ".preset: " + e.what());
    }
  } else if (!j.contains("user")) {
    throw Error(ErrorCode::invalid_argument, where + ": needs \"preset\" or \"user\"");
  }
  PromptSpec s = base;
  if (j.contains("chat_format")) {
    s.chat_format = string_at("chat_format");
    try {
      ChatFormat::named(s.chat_format);
    } catch (const Error& e) {
      throw Error(e.code(), where + ".chat_format: " + e.what());
    }
  }
  if (j.contains("system")) {
    if (j.at("system").is_null()) s.system.reset();
    else s.system = string_at("system");
  }
  if (j.contains("user")) s.user = string_at("user");
  if (j.contains("image_position")) {
    const std::string pos = string_at("image_position");
    if (pos == "before_text") s.image_position = ImagePosition::before_text;
    else if (pos == "after_text") s.image_position = ImagePosition::after_text;
    else {
      throw Error(ErrorCode::invalid_argument, where + ".image_position: \"" + pos +
                                                   "\" is not one of before_text, after_text");
    }
  }
  // Overrides that change the preset make it a prompt of its own.
  if (s.system != base.system || s.user != base.user || s.image_position != base.image_position ||
      s.chat_format != base.chat_format) {
    s.preset.clear();
  }
  return s;
}

nlohmann::json prompt_spec_to_json(const PromptSpec& s) {
  if (!s.preset.empty()) return s.preset;
  nlohmann::json j;
  j["chat_format"] = s.chat_format;
  j["system"] = s.system ? nlohmann::json(*s.system) : nlohmann::json(nullptr);
  j["user"] = s.user;
  j["image_position"] = s.image_position == ImagePosition::before_text ? "before_text" : "after_text";
  return j;
}

std::vector<ChatMessage> iqa_conversation(const PromptSpec& spec) {
  std::vector<ChatMessage> messages;
  if (spec.system) messages.push_back(ChatMessage{"system", {ChatPart::of_text(*spec.system)}});
  ChatMessage user{"user", {}};
  if (spec.image_position == ImagePosition::before_text) user.parts.push_back(ChatPart::image());
  user.parts.push_back(ChatPart::of_text(spec.user));
  if (spec.image_position == ImagePosition::after_text) user.parts.push_back(ChatPart::image());
  messages.push_back(std::move(user));
  return messages;
}

RenderedPrompt render_iqa_prompt(const Tokenizer& tokenizer, const PromptSpec& spec, std::size_t image_tokens) {
  const std::size_t counts[1] = {image_tokens};
  return render_chat(tokenizer, ChatFormat::named(spec.chat_format), iqa_conversation(spec), counts, true);
}

}  // namespace hawkeye
