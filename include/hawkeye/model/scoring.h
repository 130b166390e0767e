// Scoring images with an IQA model: greedy (the default: the same image always gets the same score) or
// K sampled answers per image (their mean, and their spread as the model's own uncertainty — the quantity
// UADO uses in training). A parse failure is reported, never replaced by a guess.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hawkeye/image/image.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/text/answer.h"

namespace hawkeye::model {

// How a greedy answer becomes the score.
enum class Readout {
  answer,    // the number the answer writes (the default)
  // The expected value of the answer's number under the model's own distribution over its digits, after the
  // greedy reasoning (as Q-Align reads a score out of level probabilities): the first digit over the integers
  // of the score range, then "." and the first decimal (expectation over 0-9), then the second decimal
  // (expectation over 0-9 after the most likely first decimal); each branch clamped to the range.
  // Deterministic, greedy only, needs single-token digits. Where the greedy answer has no "<answer>" followed
  // by a digit, the greedy status (a parse failure) stands.
  expected,
};
std::string_view readout_name(Readout r);
// "answer" or "expected"; Error(invalid_argument) naming both otherwise.
Readout readout_from_name(std::string_view name);

struct ScoreOptions {
  std::int64_t samples = 0;          // 0 = greedy; K > 0 = K sampled answers per image
  Readout readout = Readout::answer; // greedy only (expected with samples > 0 is an invalid_argument)
  SamplingParams sampling;           // temperature/top-k/top-p/max_new_tokens for sampling (greedy: max_new_tokens)
  std::uint64_t seed = 0;            // run seed; image i's answers use derive_seed(seed, image identity)
};

// Scoring settings of a run, with the model's defaults filled in.
ScoreOptions default_score_options(const IqaModel& model, std::int64_t samples, std::uint64_t seed);

struct ImageScore {
  double score = std::numeric_limits<double>::quiet_NaN();  // greedy: the parsed answer (or its expected value,
                                                            // Readout::expected); K samples: mean of the parsed ones
  double answer = std::numeric_limits<double>::quiet_NaN(); // greedy: the number the answer writes
  // ok; greedy: why the answer gave no score (read strictly, a number outside the model's range is
  // out_of_range); K samples: no_answer_parsed when none of the K answers gave a score
  ScoreStatus status = ScoreStatus::ok;
  std::string reasoning;          // the text inside <think>…</think> of the (first) answer
  std::string completion;         // the whole (first) answer
  std::vector<double> samples;    // K sampled scores (NaN = no score: a parse failure or out of range)
  double std = std::numeric_limits<double>::quiet_NaN();     // population std of the parsed samples (K >= 2)
  std::int64_t parsed = 0;        // answers that gave a score
  std::int64_t tokens = 0;        // tokens generated for this image
};

// Scores a batch of images in one pass (images encoded once, prompts prefilled once, K samples per image
// from an expanded cache). `identities` seed the samples per image (e.g. file paths); empty = batch index.
std::vector<ImageScore> score_images(IqaModel& model, const std::vector<const Image*>& images, const ScoreOptions& options,
                                     const std::vector<std::string>& identities = {}, GenerationStats* stats = nullptr);

// The position in `tokens` of the first digit token (one of `digit_ids`) that follows the first "<answer>" (any
// letter case) with only whitespace between them; -1 when there is none. Digits before the tag (the reasoning's
// "8x8 blocks") are skipped. Readout::expected reads the distribution at that position; exposed for tests.
std::int64_t answer_number_start(const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& digit_ids,
                                 const Detokenizer& decode);

// The text between the first <think> and the following </think> (whitespace trimmed), "" when absent.
std::string extract_reasoning(std::string_view completion);

}  // namespace hawkeye::model
