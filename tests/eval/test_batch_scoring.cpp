// The scoring pipeline (score_files) and the expansion of command-line inputs.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include "eval_test_data.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/image/inputs.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

using namespace hawkeye;

namespace {

test::ScoringWorld& world() {
  static test::ScoringWorld w;
  return w;
}

std::vector<eval::ScoredImage> run(model::IqaModel& m, const std::vector<fs::path>& paths, std::int64_t batch,
                                   std::int64_t samples = 0, eval::BatchScoringSummary* summary = nullptr,
                                   const std::atomic<bool>* stop = nullptr) {
  eval::BatchScoringOptions o;
  o.score = model::default_score_options(m, samples, 11);
  o.batch = batch;
  o.stop = stop;
  std::vector<eval::ScoredImage> out;
  const auto s = eval::score_files(m, paths, {}, o, [&](const eval::ScoredImage& r) { out.push_back(r); });
  if (summary) *summary = s;
  return out;
}

}  // namespace

TEST(ImageInputs, FoldersAreSearchedRecursivelyForImagesInPathOrder) {
  const auto p = expand_image_inputs({world().imgs.string()});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], world().imgs / "a.png");
  EXPECT_EQ(p[1], world().imgs / "c.jpg");
  EXPECT_EQ(p[2], world().imgs / "sub" / "b.png");
}

TEST(ImageInputs, FilesAreKeptAsGivenAndPatternsExpanded) {
  const std::string missing = (world().root / "nope.png").string();
  const auto p = expand_image_inputs({missing, (world().imgs / "*").string(), (world().imgs / "?.jpg").string()});
  // missing file kept (it becomes a load error); "*" matches a.png, c.jpg and the folder sub (expanded), not notes.txt
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0], fs::path(missing));
  EXPECT_EQ(p[1], world().imgs / "a.png");
  EXPECT_EQ(p[2], world().imgs / "c.jpg");
  EXPECT_EQ(p[3], world().imgs / "sub" / "b.png");
  EXPECT_EQ(p[4], world().imgs / "c.jpg");
}

TEST(ImageInputs, EmptyFoldersUnmatchedPatternsAndNoArgumentsAreErrors) {
  auto code_of = [](const std::vector<std::string>& args) {
    try {
      expand_image_inputs(args);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal;
  };
  EXPECT_EQ(code_of({(world().root / "empty").string()}), ErrorCode::not_found);
  EXPECT_EQ(code_of({(world().root / "empty" / "*.png").string()}), ErrorCode::not_found);
  EXPECT_EQ(code_of({}), ErrorCode::invalid_argument);
}

TEST(BatchScoring, ResultsComeInInputOrderWithLoadErrorsInPlace) {
  auto m = model::IqaModel::load(world().model.string());
  const std::vector<fs::path> paths = {world().imgs / "a.png", world().root / "bad" / "broken.png", world().imgs / "c.jpg",
                                       world().root / "missing.png", world().imgs / "sub" / "b.png"};
  eval::BatchScoringSummary s;
  const auto out = run(m, paths, 2, 0, &s);
  ASSERT_EQ(out.size(), paths.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].index, i);
    EXPECT_EQ(out[i].path, paths[i]);
  }
  EXPECT_EQ(out[1].status, ScoreStatus::load_error);
  EXPECT_NE(out[1].error.find("broken.png"), std::string::npos) << out[1].error;
  EXPECT_EQ(out[3].status, ScoreStatus::load_error);
  EXPECT_EQ(out[0].status, ScoreStatus::ok);
  EXPECT_EQ(s.images, 5u);
  EXPECT_EQ(s.scored, 3u);
  EXPECT_EQ(s.load_failures, 2u);
  EXPECT_EQ(s.parse_failures, 0u);
  EXPECT_GT(s.generated_tokens, 0);
  // Where the time went: two model batches (3 loaded images at batch 2), every part measured, none beyond the
  // run's wall time; the tokens counted per batch add up to the model's own count.
  EXPECT_EQ(s.model.generated_tokens, s.generated_tokens);
  EXPECT_GT(s.model.encode_seconds, 0.0);
  EXPECT_GT(s.model.preprocess_seconds, 0.0);
  EXPECT_GT(s.model.prefill_seconds, 0.0);
  EXPECT_GT(s.model.steps, 0);
  EXPECT_GE(s.load_wait_seconds, 0.0);
  EXPECT_GE(s.output_seconds, 0.0);
  // The calling thread's parts add up to at most the wall time; the vision's only when no batch was encoded
  // ahead (with 2 threads the next batch's encoding overlaps this one's generation).
  const double caller = s.load_wait_seconds + s.model.prefill_seconds + s.model.decode_seconds + s.model.sample_seconds + s.output_seconds;
  EXPECT_LE(caller + (s.encoded_ahead == 0 ? s.model.preprocess_seconds + s.model.encode_seconds : 0.0), s.seconds + 1e-6);
  // A load error record has no score and no reasoning, but its error.
  const auto rec = eval::image_record(out[1], m.contract(), 0);
  EXPECT_TRUE(rec["score"].is_null());
  EXPECT_EQ(rec["status"], "load_error");
  EXPECT_FALSE(rec.contains("tokens"));
}

TEST(BatchScoring, ScoresDoNotDependOnTheBatchSize) {
  auto m = model::IqaModel::load(world().model.string());
  const std::vector<fs::path> paths = {world().imgs / "a.png", world().imgs / "c.jpg", world().imgs / "sub" / "b.png"};
  for (std::int64_t samples : {0, 4}) {
    const auto one = run(m, paths, 1, samples), all = run(m, paths, 3, samples);
    for (std::size_t i = 0; i < paths.size(); ++i) {
      EXPECT_EQ(one[i].result.completion, all[i].result.completion);
      EXPECT_EQ(one[i].result.samples, all[i].result.samples) << "samples " << samples << " image " << i;
      EXPECT_EQ(one[i].result.score, all[i].result.score);
    }
  }
}

TEST(BatchScoring, AnswersDoNotDependOnTheThreadCountWhichIsGivenBack) {
  // Scoring may run parts of its work with another OpenMP count (a small model generates on one core, images are
  // encoded one per worker): the answers must be those of one thread, and the caller's count must be restored.
  auto m = model::IqaModel::load(world().model.string());
  const std::vector<fs::path> paths = {world().imgs / "a.png", world().imgs / "c.jpg", world().imgs / "sub" / "b.png"};
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = run(m, paths, 3, 4);
  at::set_num_threads(2);
  const auto two = run(m, paths, 3, 4);
  EXPECT_EQ(at::get_num_threads(), 2);
  at::set_num_threads(before);
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].result.completion, two[i].result.completion) << i;
    EXPECT_EQ(one[i].result.samples, two[i].result.samples) << i;
  }
}

TEST(BatchScoring, WithMoreThanOneThreadTheNextBatchIsEncodedWhileThisOneGeneratesAndNothingChanges) {
  // A small language model generates on one core; with 2 threads score_files encodes the next batch on the other
  // meanwhile. Same answers, statuses and load errors as one thread (which encodes in turn), batches without a
  // loadable image included, and the caller's count back.
  auto m = model::IqaModel::load(world().model.string());
  const fs::path missing = world().root / "missing.png";
  const std::vector<fs::path> paths = {world().imgs / "a.png", world().imgs / "c.jpg", missing, missing,
                                       world().imgs / "sub" / "b.png", world().imgs / "a.png", world().imgs / "c.jpg"};
  const int before = at::get_num_threads();
  for (std::int64_t samples : {0, 3}) {
    eval::BatchScoringSummary s1, s2;
    at::set_num_threads(1);
    const auto one = run(m, paths, 2, samples, &s1);
    at::set_num_threads(2);
    const auto two = run(m, paths, 2, samples, &s2);
    EXPECT_EQ(at::get_num_threads(), 2);
    EXPECT_EQ(s1.encoded_ahead, 0u);
    EXPECT_EQ(s2.encoded_ahead, 2u) << "batches 3 and 4 (batch 2 has no image that loads)";
    ASSERT_EQ(one.size(), paths.size());
    ASSERT_EQ(two.size(), paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      EXPECT_EQ(two[i].index, i);
      EXPECT_EQ(one[i].status, two[i].status) << i;
      EXPECT_EQ(one[i].error, two[i].error) << i;
      EXPECT_EQ(one[i].result.completion, two[i].result.completion) << i;
      EXPECT_EQ(one[i].result.samples, two[i].result.samples) << i;
      if (one[i].scored()) EXPECT_EQ(one[i].result.score, two[i].result.score) << i;
    }
    EXPECT_EQ(s2.load_failures, 2u);
  }
  // Stopped after the first batch: the batch encoded ahead is discarded, not reported.
  std::atomic<bool> stop{false};
  eval::BatchScoringOptions o;
  o.score = model::default_score_options(m, 0, 11);
  o.batch = 2;
  o.stop = &stop;
  std::vector<eval::ScoredImage> out;
  const std::vector<fs::path> four = {world().imgs / "a.png", world().imgs / "c.jpg", world().imgs / "sub" / "b.png", world().imgs / "a.png"};
  const auto s = eval::score_files(m, four, {}, o, [&](const eval::ScoredImage& r) {
    out.push_back(r);
    stop = true;
  });
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(s.encoded_ahead, 1u);
  at::set_num_threads(before);
}

TEST(BatchScoring, ASharedEncodingGivesEveryImageWhatItGetsAloneAndReportsErrors) {
  auto m = model::IqaModel::load(world().model.string());
  std::vector<Image> images;
  for (const char* name : {"a.png", "c.jpg", "sub/b.png", "a.png", "c.jpg"}) images.push_back(load_image(world().imgs / name));
  std::vector<const Image*> ptrs;
  for (const auto& im : images) ptrs.push_back(&im);
  for (int background : {0, 1, 3, 8}) {
    model::SharedEncoding shared(m, ptrs, background);
    const auto all = shared.finish();
    ASSERT_EQ(all.images, ptrs.size());
    ASSERT_EQ(all.visuals.images(), static_cast<std::int64_t>(ptrs.size()));
    for (std::size_t i = 0; i < ptrs.size(); ++i) {
      const auto alone = model::encode_for_scoring(m, {ptrs[i]});
      const auto k = static_cast<std::int64_t>(i);
      ASSERT_EQ(all.visuals.tokens(k), alone.visuals.tokens(0));
      EXPECT_TRUE(torch::equal(all.visuals.embeds.narrow(0, all.visuals.offsets[i], all.visuals.tokens(k)), alone.visuals.embeds))
          << "image " << i << ", " << background << " background threads";
    }
    EXPECT_THROW(shared.finish(), Error) << "finish is called once";
  }
  // An image the model refuses: its error reaches finish(), whichever thread met it.
  Image empty;
  std::vector<const Image*> with_bad = ptrs;
  with_bad.insert(with_bad.begin() + 2, &empty);
  for (int background : {0, 2}) {
    model::SharedEncoding shared(m, with_bad, background);
    EXPECT_THROW(shared.finish(), Error) << background;
  }
  // Destroyed without finish (the caller failed meanwhile): the background threads stop and are joined.
  { model::SharedEncoding abandoned(m, ptrs, 2); }
}

TEST(BatchScoring, StopFlagEndsTheRunAfterTheCurrentBatch) {
  auto m = model::IqaModel::load(world().model.string());
  const std::vector<fs::path> paths(7, world().imgs / "a.png");
  std::atomic<bool> stop{true};
  eval::BatchScoringSummary s;
  const auto out = run(m, paths, 3, 0, &s, &stop);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_TRUE(s.stopped);
}

TEST(BatchScoring, ScoresOutsideTheModelsRangeAreNeverReportedOrAveraged) {
  const std::vector<fs::path> paths = {world().imgs / "a.png", world().imgs / "c.jpg", world().imgs / "sub" / "b.png"};
  auto original = model::IqaModel::load(world().model.string());
  const auto before = run(original, paths, 3);
  double lowest = 1e9, highest = -1e9;
  for (const auto& r : before) lowest = std::min(lowest, r.result.score), highest = std::max(highest, r.result.score);
  ASSERT_GT(highest, lowest) << "the test images should not all get the same answer";
  // The same model declaring the range [lowest + 0.5, 5]: the lowest answers now fall outside it.
  const double lo = lowest + 0.5;
  test::TempDir dir;
  const fs::path copy = dir.path() / "narrow";
  fs::copy(world().model, copy, fs::copy_options::recursive);
  auto contract = nlohmann::json::parse(read_file(copy / "hawkeye.json"));
  contract["score"]["range"] = {lo, 5.0};
  write_file_atomic(copy / "hawkeye.json", contract.dump(2));
  auto narrow = model::IqaModel::load(copy.string());
  const auto after = run(narrow, paths, 3);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (before[i].result.score < lo) {
      EXPECT_EQ(after[i].result.status, ScoreStatus::out_of_range) << after[i].result.completion;
      EXPECT_TRUE(std::isnan(after[i].result.score));
      EXPECT_EQ(after[i].result.parsed, 0);
    } else {
      EXPECT_EQ(after[i].result.status, ScoreStatus::ok);
      EXPECT_EQ(after[i].result.score, before[i].result.score);
    }
  }
  for (const auto& r : run(narrow, paths, 3, 6)) {
    for (double v : r.result.samples) EXPECT_TRUE(std::isnan(v) || v >= lo) << v;
    if (r.result.parsed == 0) {
      EXPECT_EQ(r.result.status, ScoreStatus::no_answer_parsed);
    } else {
      EXPECT_GE(r.result.score, lo);
    }
  }
}

// A thread count that follows the load changes between batches while the loader threads decode the next one
// (OpenCV). A scripted load flips the count before every batch of a 40-image run; every image is scored and the
// greedy answers equal those of a fixed count. (A smoke test: the libtbb crash of a first version, which also
// resized OpenCV's pool there, came once in ~13 contended CLI runs and is not reproduced here.)
TEST(BatchScoring, TheThreadCountMayChangeBetweenBatches) {
  auto m = model::IqaModel::load(world().model.string());
  std::vector<fs::path> paths;
  for (int i = 0; i < 20; ++i) {
    paths.push_back(world().imgs / "a.png");
    paths.push_back(world().imgs / "c.jpg");
  }
  double t = 0, busy = 0;
  int call = 0;
  ThreadGovernor governor(
      2,
      [&] {
        // one second per look; others alternate between an idle machine and 1.5 busy cores
        t += 1.0;
        busy += (call++ % 2) ? 1.5 : 0.0;
        return CpuSample{t, busy, 0.0, true};
      },
      2);
  eval::BatchScoringOptions o;
  o.score = model::default_score_options(m, 0, 11);
  o.batch = 2;
  o.loader_threads = 2;
  o.threads = &governor;
  std::vector<eval::ScoredImage> varied;
  const auto s = eval::score_files(m, paths, {}, o, [&](const eval::ScoredImage& r) { varied.push_back(r); });
  EXPECT_EQ(s.fewest_threads, 1);
  EXPECT_EQ(s.most_threads, 2);
  EXPECT_GE(governor.changes(), 10);
  at::set_num_threads(1);  // the baseline at a fixed count (the varied run used 1 and 2)
  const auto fixed = run(m, paths, 2);
  at::set_num_threads(available_cores());
  ASSERT_EQ(varied.size(), paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    EXPECT_TRUE(varied[i].scored()) << i;
    EXPECT_EQ(varied[i].result.completion, fixed[i].result.completion) << i;
  }
}
