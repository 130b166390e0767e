// Chat prompts the way Qwen2.5-VL's chat template renders them, driven by a model's hawkeye.json
// ("prompt" section, schema in docs/text.md), with the two Q-Hawkeye prompts as named presets.
//
// Qwen2.5-VL's template: a default system turn "You are a helpful assistant." when the first message is
// not a system message; each turn "<|im_start|>ROLE\n" + content + "<|im_end|>\n"; an image part is
// "<|vision_start|><|image_pad|><|vision_end|>" (the processor then repeats <|image_pad|> once per visual
// token); add_generation_prompt appends "<|im_start|>assistant\n".
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/text/tokenizer.h"

namespace hawkeye {

struct ChatPart {
  enum class Kind { text, image };
  Kind kind = Kind::text;
  std::string text;  // for Kind::text
  static ChatPart of_text(std::string t) { return ChatPart{Kind::text, std::move(t)}; }
  static ChatPart image() { return ChatPart{Kind::image, {}}; }
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::vector<ChatPart> parts;
};

// The markers of a chat format.
struct ChatFormat {
  std::string name;
  std::string turn_start;       // "<|im_start|>"
  std::string turn_end;         // "<|im_end|>"
  std::string default_system;   // "You are a helpful assistant."
  std::string vision_start;     // "<|vision_start|>"
  std::string image_pad;        // "<|image_pad|>"
  std::string vision_end;       // "<|vision_end|>"
  std::vector<std::string> stop_tokens;  // "<|im_end|>", "<|endoftext|>"

  // Known formats: "qwen2.5-vl". Errors: not_found (the message lists the known names).
  static ChatFormat named(std::string_view name);
};

// Ids [first, first + count) of a rendered prompt are the visual-token placeholders of one image.
struct ImagePlaceholder {
  std::size_t first = 0;
  std::size_t count = 0;
};

// Where one message sits in the ids: ids[start] is its turn-start token, ids[content_end] its turn-end
// token, and [content_begin, content_end) its content (the first id holding a byte after "ROLE\n").
struct MessageSpan {
  std::string role;
  std::size_t start = 0;
  std::size_t content_begin = 0;
  std::size_t content_end = 0;
};

struct RenderedPrompt {
  std::vector<TokenId> ids;
  std::vector<ImagePlaceholder> images;  // one per image part, in order
  // ids[0, image_independent_prefix) do not depend on any image: everything before the first
  // vision-start token (ids.size() when there is no image). A model may compute them once and share them.
  std::size_t image_independent_prefix = 0;
  std::vector<MessageSpan> messages;     // includes the default system turn when the template adds it
};

// The rendered text. image_tokens[i] (when given) repeats image i's pad token that many times, as the
// Qwen2.5-VL processor does; when empty, each image has one pad token as the template writes it.
// Errors: invalid_argument (image_tokens given but not one per image, or a zero count).
std::string render_chat_text(const ChatFormat& format, const std::vector<ChatMessage>& messages,
                             bool add_generation_prompt, std::span<const std::size_t> image_tokens = {});

// Renders and tokenizes. Structural tokens are inserted as ids; the text between them is encoded with
// allow_special = allow_special_in_text (default false, so text that spells "<|im_end|>" cannot forge a
// turn). Sections between special tokens are encoded as one text, so the ids equal Hugging Face's
// tokenization of the rendered text whenever the message text holds no special token.
// Errors: invalid_argument (image_tokens not one per image, or zero), model (the tokenizer lacks a
// token the format needs).
RenderedPrompt render_chat(const Tokenizer& tokenizer, const ChatFormat& format,
                           const std::vector<ChatMessage>& messages, std::span<const std::size_t> image_tokens,
                           bool add_generation_prompt, bool allow_special_in_text = false);

// Ids of the format's stop tokens that the tokenizer has (at least one, else Error(model)).
std::vector<TokenId> chat_stop_ids(const Tokenizer& tokenizer, const ChatFormat& format);

// ---- IQA prompt specification (the "prompt" section of hawkeye.json) ----

enum class ImagePosition { before_text, after_text };

struct PromptSpec {
  std::string preset;                      // the preset it came from ("" when written out in full)
  std::string chat_format = "qwen2.5-vl";
  std::optional<std::string> system;       // nullopt: the chat format's default system turn
  std::string user;                        // the user's text
  ImagePosition image_position = ImagePosition::before_text;
};

// "qhawkeye-train": default system turn; user turn = image, then the training text.
// "qhawkeye-infer": the Q-Hawkeye system text; user turn = inference text, then image.
// Errors: not_found (the message lists the presets).
PromptSpec prompt_preset(std::string_view name);
std::vector<std::string> prompt_preset_names();

// Reads hawkeye.json's "prompt": a preset name, or an object {preset?, chat_format?, system?, user?,
// image_position?}; keys given override the preset's. `where` names it in errors
// ("models/tiny/hawkeye.json: prompt"). Errors: invalid_argument (wrong type, unknown key or value),
// not_found (unknown preset or chat format).
PromptSpec parse_prompt_spec(const nlohmann::json& prompt, const std::string& where);
nlohmann::json prompt_spec_to_json(const PromptSpec& spec);

// The conversation of one IQA request: [system turn,] user turn with one image and the text.
std::vector<ChatMessage> iqa_conversation(const PromptSpec& spec);

// render_chat of iqa_conversation(spec) with one image of `image_tokens` visual tokens and the
// generation prompt.
RenderedPrompt render_iqa_prompt(const Tokenizer& tokenizer, const PromptSpec& spec, std::size_t image_tokens);

}  // namespace hawkeye
