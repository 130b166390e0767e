#include "hawkeye/model/scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>

#include <ATen/Parallel.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/model/mobilenet.h"

namespace hawkeye::model {

std::string_view readout_name(Readout r) {
  switch (r) {
    case Readout::expected: return "expected";
    case Readout::head: return "head";
    case Readout::answer: break;
  }
  return "answer";
}

Readout readout_from_name(std::string_view name) {
  if (name == "answer") return Readout::answer;
  if (name == "expected") return Readout::expected;
  if (name == "head") return Readout::head;
  throw Error(ErrorCode::invalid_argument, "unknown readout \"" + std::string(name) + "\" (known: answer, expected, head)");
}

ScoreOptions default_score_options(const IqaModel& model, std::int64_t samples, std::uint64_t seed) {
  ScoreOptions o;
  o.samples = samples;
  o.seed = seed;
  o.sampling = model.contract().sampling;
  o.sampling.greedy = samples == 0;
  o.sampling.stop_ids = model.stop_ids();
  return o;
}

void check_score_options(const IqaModel& model, const ScoreOptions& options) {
  if (options.readout != Readout::answer && options.samples > 0) {
    throw Error(ErrorCode::invalid_argument, "readout \"" + std::string(readout_name(options.readout)) +
                                                 "\" reads a greedy answer; with K samples the score is the mean of the K answers");
  }
  if (options.readout == Readout::head && !model.policy().has_auxiliary_head()) {
    throw Error(ErrorCode::invalid_argument, "readout \"head\" needs a model with an auxiliary quality head (hawkeye-tiny with "
                                             "vision_config.aux_head); " + model.policy().architecture() + " has none");
  }
}

std::string extract_reasoning(std::string_view c) {
  const auto open = c.find("<think>");
  if (open == std::string_view::npos) return "";
  const auto begin = open + 7;
  auto end = c.find("</think>", begin);
  if (end == std::string_view::npos) end = c.size();
  return std::string(trim_space(c.substr(begin, end - begin)));
}

namespace {

// The single token of `text`, or Error(model) when the tokenizer splits it.
std::int64_t single_token(const IqaModel& model, std::string_view text) {
  const auto ids = model.tokenizer().encode(text, false);
  if (ids.size() != 1) {
    throw Error(ErrorCode::invalid_argument, "readout \"expected\" needs single-token digits; this tokenizer writes \"" +
                                                 std::string(text) + "\" as " + std::to_string(ids.size()) + " tokens");
  }
  return static_cast<std::int64_t>(ids[0]);
}

// Softmax of `logits` [N, V] over the columns `ids`: [N, ids.size()] float64 on the CPU.
torch::Tensor probs_over(const torch::Tensor& logits, const torch::Tensor& ids) {
  return torch::softmax(logits.index_select(1, ids.to(logits.device())).to(torch::kFloat64), 1).to(torch::kCPU);
}

// Readout::expected for the greedy sequences `seqs` (one per request): replaces r.score where the answer has
// "<answer>" followed by a digit. See Readout in scoring.h.
void expected_readout(IqaModel& model, const VisualEmbeds& visuals, const std::vector<GenerationRequest>& requests,
                      const std::vector<GeneratedSequence>& seqs, std::vector<ImageScore>& out) {
  auto& policy = model.policy();
  const ScoreRange range{model.contract().score_min, model.contract().score_max};
  std::vector<std::int64_t> digit(10);
  for (int d = 0; d < 10; ++d) digit[d] = single_token(model, std::string(1, static_cast<char>('0' + d)));
  const std::int64_t dot = single_token(model, ".");
  const int lo = static_cast<int>(std::ceil(range.lo)), hi = static_cast<int>(std::floor(range.hi));
  if (lo < 0 || hi > 9 || lo > hi) {
    throw Error(ErrorCode::invalid_argument, "readout \"expected\" needs a score range within 0-9 with an integer in it");
  }
  std::vector<std::int64_t> first_ids;
  for (int d = lo; d <= hi; ++d) first_ids.push_back(digit[d]);
  const auto first = torch::tensor(first_ids, torch::kInt64);
  const auto decimals = torch::tensor(digit, torch::kInt64);
  const std::int64_t nd = static_cast<std::int64_t>(first_ids.size());

  // The prefix of each greedy answer up to the first digit after "<answer>".
  PromptBatch prompts;
  std::vector<std::int64_t> rows;  // request of each prompt row
  const auto decode = [&](const std::vector<std::int64_t>& ids) { return model.decode(ids); };
  for (const auto& s : seqs) {
    const std::int64_t cut = answer_number_start(s.tokens, digit, decode);
    if (cut < 0) continue;
    auto p = requests[s.request].prompt;
    p.insert(p.end(), s.tokens.begin(), s.tokens.begin() + cut);
    prompts.tokens.push_back(std::move(p));
    prompts.image.push_back(requests[s.request].image);
    rows.push_back(s.request);
  }
  if (rows.empty()) return;
  KVCache cache;
  const auto l0 = policy.prefill(prompts, visuals, cache, 3);
  const auto p_int = probs_over(l0, first);  // [B, nd]
  cache = cache.expand(nd);
  const auto B = static_cast<std::int64_t>(rows.size());
  policy.decode_step(cache, first.repeat({B}));                                        // -> logits of "."
  const auto l2 = policy.decode_step(cache, torch::full({B * nd}, dot, torch::kInt64));  // -> first decimal
  const auto p_e = probs_over(l2, decimals);                                             // [B*nd, 10]
  const auto e_best = p_e.argmax(1);
  const auto l3 = policy.decode_step(cache, decimals.index_select(0, e_best));           // -> second decimal
  const auto p_f = probs_over(l3, decimals);
  const auto* pi = p_int.data_ptr<double>();
  const auto* pe = p_e.data_ptr<double>();
  const auto* pf = p_f.data_ptr<double>();
  for (std::int64_t b = 0; b < B; ++b) {
    double value = 0;
    for (std::int64_t d = 0; d < nd; ++d) {
      const std::int64_t row = b * nd + d;
      double ef = 0;  // expected d.ef, each branch clamped to the range
      for (int e = 0; e < 10; ++e) {
        // The second decimal's distribution was computed after the most likely first decimal; it
        // stands in for the others (it moves the score by at most 0.09 and keeps one row per first digit).
        double f_mean = 0;
        for (int f = 0; f < 10; ++f) f_mean += pf[row * 10 + f] * std::clamp(lo + d + e / 10.0 + f / 100.0, range.lo, range.hi);
        ef += pe[row * 10 + e] * f_mean;
      }
      value += pi[b * nd + d] * ef;
    }
    auto& r = out[rows[b]];
    r.score = value;
    r.status = ScoreStatus::ok;
  }
}

}  // namespace

std::int64_t answer_number_start(const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& digit_ids,
                                 const Detokenizer& decode) {
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    if (std::find(digit_ids.begin(), digit_ids.end(), tokens[j]) == digit_ids.end()) continue;
    std::string text = decode({tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(j)});
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto open = text.find("<answer>");
    if (open == std::string::npos) continue;  // a digit of the reasoning ("8x8 blocks")
    // The answer's first digit: only whitespace between the tag and it.
    return trim_space(std::string_view(text).substr(open + 8)).empty() ? static_cast<std::int64_t>(j) : -1;
  }
  return -1;
}

EncodedImages encode_for_scoring(IqaModel& model, const std::vector<const Image*>& images) {
  EncodedImages e;
  e.images = images.size();
  if (images.empty()) return e;
  torch::NoGradGuard no_grad;
  const InferenceGraphScope inference_graph;  // the vision tower's frozen graph (hawkeye/model/mobilenet.h)
  auto& policy = model.policy();
  using Clock = std::chrono::steady_clock;
  const auto t_pre = Clock::now();
  const auto pixels = policy.preprocess(images);
  const auto t_enc = Clock::now();
  e.visuals = policy.encode_images(pixels);
  e.preprocess_seconds = std::chrono::duration<double>(t_enc - t_pre).count();
  e.encode_seconds = std::chrono::duration<double>(Clock::now() - t_enc).count();
  return e;
}

namespace {
// A small language model (hawkeye-tiny: 3 layers, 192 wide) generates faster on one core: its ~100 ops per
// decoding step are too small to share, and each parallel region costs more than it saves (48 README
// examples at 2 threads: 153 decoding steps 0.39-0.45 s -> 0.31 s, the same answers; with K = 8 samples no
// difference). Larger models keep every thread.
constexpr std::int64_t kSmallLanguageModel = 50'000'000;  // parameters
}  // namespace

bool generates_on_one_core(IqaModel& model) { return model.policy().parameter_count() < kSmallLanguageModel; }

SharedEncoding::SharedEncoding(IqaModel& model, std::vector<const Image*> images, int background)
    : model_(model), images_(std::move(images)), parts_(images_.size()) {
  const int n = static_cast<int>(std::min<std::size_t>(images_.size(), static_cast<std::size_t>(std::max(0, background))));
  try {
    for (int t = 0; t < n; ++t) threads_.emplace_back([this] { work(false); });
  } catch (const std::system_error&) {
    // Could not start another thread: the ones started and the caller's finish() share the images.
  }
}

SharedEncoding::~SharedEncoding() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void SharedEncoding::work(bool caller) {
  bool took_part = false;
  try {
    torch::NoGradGuard no_grad;  // grad mode, the inference-graph scope and the OpenMP count are per thread
    if (!caller) at::internal::lazy_init_num_threads();  // a new thread's first parallel op would set torch's count again
    const OpenMPThreadsWhile one_core(1);
    for (;;) {
      if (stop_.load()) return;
      const std::size_t i = next_.fetch_add(1);
      if (i >= images_.size()) return;
      if (!took_part) ++participants_, took_part = true;
      parts_[i] = encode_for_scoring(model_, {images_[i]});
    }
  } catch (...) {
    const std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
    stop_ = true;
  }
}

EncodedImages SharedEncoding::finish() {
  if (finished_) throw Error(ErrorCode::internal, "SharedEncoding::finish called twice");
  finished_ = true;
  work(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (error_) std::rethrow_exception(error_);
  EncodedImages out;
  out.images = images_.size();
  if (images_.empty()) return out;
  std::vector<torch::Tensor> embeds;
  out.visuals.offsets.push_back(0);
  for (auto& p : parts_) {
    embeds.push_back(p.visuals.embeds);
    out.visuals.offsets.push_back(out.visuals.offsets.back() + p.visuals.tokens(0));
    out.visuals.grid.push_back(p.visuals.grid.at(0));
    out.preprocess_seconds += p.preprocess_seconds;
    out.encode_seconds += p.encode_seconds;
  }
  out.visuals.embeds = torch::cat(embeds, 0);
  const double threads = std::max(1, participants_.load());
  out.preprocess_seconds /= threads;
  out.encode_seconds /= threads;
  return out;
}

std::vector<ImageScore> score_images(IqaModel& model, const std::vector<const Image*>& images, const ScoreOptions& options,
                                     const std::vector<std::string>& identities, GenerationStats* stats) {
  if (!identities.empty() && identities.size() != images.size()) {
    throw Error(ErrorCode::invalid_argument, "score_images: one identity per image is required");
  }
  return score_encoded(model, images, encode_for_scoring(model, images), options, identities, stats);
}

std::vector<ImageScore> score_encoded(IqaModel& model, const std::vector<const Image*>& images, EncodedImages encoded,
                                      const ScoreOptions& options, const std::vector<std::string>& identities,
                                      GenerationStats* stats) {
  std::vector<ImageScore> out(images.size());
  if (images.empty()) return out;
  if (!identities.empty() && identities.size() != images.size()) {
    throw Error(ErrorCode::invalid_argument, "score_images: one identity per image is required");
  }
  if (encoded.images != images.size()) {
    throw Error(ErrorCode::invalid_argument, "score_encoded: " + std::to_string(images.size()) + " images but " +
                                                 std::to_string(encoded.images) + " encoded");
  }
  torch::NoGradGuard no_grad;
  auto& policy = model.policy();
  const VisualEmbeds& visuals = encoded.visuals;
  if (stats) {
    stats->preprocess_seconds += encoded.preprocess_seconds;
    stats->encode_seconds += encoded.encode_seconds;
  }
  check_score_options(model, options);
  std::vector<double> head;
  if (options.readout == Readout::head) {
    head = policy.auxiliary_scores(visuals);
    if (head.size() != images.size()) {
      throw Error(ErrorCode::invalid_argument, "readout \"head\" needs a model with an auxiliary quality head (hawkeye-tiny with "
                                               "vision_config.aux_head); " + policy.architecture() + " has none");
    }
  }
  const std::int64_t K = options.samples > 0 ? options.samples : 1;
  SamplingParams sp = options.sampling;
  sp.greedy = options.samples == 0;
  if (sp.stop_ids.empty()) sp.stop_ids = model.stop_ids();
  if (sp.vocab_limit == 0) sp.vocab_limit = static_cast<std::int64_t>(model.tokenizer().vocab_size());
  std::vector<GenerationRequest> requests;
  for (std::size_t i = 0; i < images.size(); ++i) {
    GenerationRequest r;
    r.prompt = model.prompt_ids(images[i]->width, images[i]->height);
    r.image = static_cast<std::int64_t>(i);
    r.num_samples = K;
    r.seed = identities.empty() ? derive_seed(options.seed, i) : derive_seed(options.seed, identities[i]);
    requests.push_back(std::move(r));
  }
  // A small language model generates on one core (kSmallLanguageModel); the caller's count is given back.
  const OpenMPThreadsWhile small(1, at::get_num_threads() > 1 && generates_on_one_core(model));
  const auto seqs = generate(policy, visuals, requests, sp, [&](const std::vector<std::int64_t>& ids) { return model.decode(ids); },
                             stats);
  const ScoreRange range{model.contract().score_min, model.contract().score_max};
  for (const auto& s : seqs) {
    auto& r = out[s.request];
    r.tokens += static_cast<std::int64_t>(s.tokens.size());
    // A number outside the model's declared range (a sampled "22.38" or "6551") is not a score on that
    // scale: it is out_of_range and, like a parse failure, never averaged or clamped.
    const ScoreReading a = read_score(s.text, range, OutOfRange::fail);
    const double v = a.ok() ? a.value : std::nan("");
    if (s.sample == 0) {
      r.completion = s.text;
      r.reasoning = extract_reasoning(s.text);
      if (options.samples == 0) r.status = a.status;
    }
    if (a.ok()) ++r.parsed;
    if (options.samples > 0) r.samples.push_back(v);
    else r.score = r.answer = v;
  }
  if (options.readout == Readout::expected) expected_readout(model, visuals, requests, seqs, out);
  if (options.readout == Readout::head) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!std::isfinite(head[i])) throw Error(ErrorCode::model, "the auxiliary head gave a non-finite score (broken weights?)");
      // Every image gets the head's score: the answer's own parse status is not the score's (its number is `answer`).
      out[i].score = std::clamp(head[i], range.lo, range.hi);
      out[i].status = ScoreStatus::ok;
    }
  }
  if (options.samples > 0) {
    for (auto& r : out) {
      double sum = 0;
      std::int64_t n = 0;
      for (double v : r.samples)
        if (!std::isnan(v)) sum += v, ++n;
      if (n == 0) {
        r.status = ScoreStatus::no_answer_parsed;
        continue;
      }
      r.score = sum / n;
      if (n >= 2) {
        double ss = 0;
        for (double v : r.samples)
          if (!std::isnan(v)) ss += (v - r.score) * (v - r.score);
        r.std = std::sqrt(ss / n);
      }
    }
  }
  return out;
}

}  // namespace hawkeye::model
