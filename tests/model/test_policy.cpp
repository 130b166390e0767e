#include <gtest/gtest.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/weights.h"
#include "model_fixtures.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

struct PolicySetup {
  std::shared_ptr<TinyVlm> policy = test::small_tiny();
  std::vector<Image> images{test::random_image(64, 48, 1), test::random_image(64, 48, 2), test::random_image(40, 56, 3)};
  VisualEmbeds vis;
  PolicySetup() {
    torch::NoGradGuard g;
    std::vector<const Image*> ptrs;
    for (auto& i : images) ptrs.push_back(&i);
    vis = policy->encode_images(policy->preprocess(ptrs));
  }
};

// Logits of every completion position by one full teacher-forced pass (no cache reuse).
torch::Tensor full_logits(Policy& p, const PromptBatch& prompts, const VisualEmbeds& vis, const std::vector<std::int64_t>& completion) {
  CompletionBatch c;
  c.tokens = torch::tensor(completion, torch::kInt64).unsqueeze(0);
  c.mask = torch::ones_like(c.tokens, torch::kBool);
  return p.decoder().logits(p.completion_hidden(prompts, vis, c))[0];
}

}  // namespace

TEST(Policy, VisualTokensHaveTheConfiguredGrid) {
  PolicySetup s;
  EXPECT_EQ(s.vis.images(), 3);
  EXPECT_EQ(s.vis.tokens(0), 6);
  EXPECT_EQ(s.vis.embeds.size(0), 18);
  EXPECT_EQ(s.vis.embeds.size(1), 32);
}

TEST(Policy, CachedDecodingEqualsFullRecomputation) {
  PolicySetup s;
  torch::NoGradGuard g;
  PromptBatch pb{{test::prompt({1, 2, 3, 4}, 6, {7, 8})}, {0}};
  KVCache cache;
  auto logits = s.policy->prefill(pb, s.vis, cache, 4);
  std::vector<std::int64_t> completion;
  std::vector<torch::Tensor> step_logits;
  for (int step = 0; step < 64; ++step) {
    step_logits.push_back(logits[0].clone());
    const auto tok = logits[0].argmax().item<std::int64_t>() % 59;  // stay off the image token
    completion.push_back(tok);
    logits = s.policy->decode_step(cache, torch::tensor({tok}, torch::kInt64));
  }
  const auto full = full_logits(*s.policy, pb, s.vis, completion);  // [64, V]
  for (int step = 0; step < 64; ++step) {
    const double diff = (full[step] - step_logits[step]).abs().max().item<double>();
    ASSERT_LT(diff, 1e-5) << "step " << step;
  }
}

TEST(Policy, BatchEqualsItemsOneByOneWithPadding) {
  PolicySetup s;
  torch::NoGradGuard g;
  // Different lengths before and after the image: rows are left-padded inside the batch.
  PromptBatch batch{{test::prompt({1, 2, 3}, 6, {9}), test::prompt({1, 2, 3, 4, 5, 6}, 6, {9, 10, 11}),
                     test::prompt({1, 2}, 6, {})},
                    {0, 1, 2}};
  KVCache cache;
  const auto batched = s.policy->prefill(batch, s.vis, cache);
  const auto next = torch::tensor({5, 6, 7}, torch::kInt64);
  const auto batched2 = s.policy->decode_step(cache, next);
  for (int r = 0; r < 3; ++r) {
    PromptBatch one{{batch.tokens[r]}, {batch.image[r]}};
    KVCache c1;
    const auto single = s.policy->prefill(one, s.vis, c1);
    EXPECT_LT((single[0] - batched[r]).abs().max().item<double>(), 1e-5) << "row " << r;
    const auto single2 = s.policy->decode_step(c1, next.narrow(0, r, 1));
    EXPECT_LT((single2[0] - batched2[r]).abs().max().item<double>(), 1e-5) << "row " << r;
  }
  // token_logprobs: a batch with right-padded completions equals rows alone
  CompletionBatch comp;
  comp.tokens = torch::tensor({{3, 4, 5, 0}, {6, 7, 0, 0}, {8, 9, 10, 11}}, torch::kInt64);
  comp.mask = comp.tokens != 0;
  comp.mask[2].fill_(true);
  const auto lp = s.policy->token_logprobs(batch, s.vis, comp);
  for (int r = 0; r < 3; ++r) {
    PromptBatch one{{batch.tokens[r]}, {batch.image[r]}};
    const auto n = comp.mask[r].sum().item<std::int64_t>();
    CompletionBatch c1{comp.tokens[r].narrow(0, 0, n).unsqueeze(0), comp.mask[r].narrow(0, 0, n).unsqueeze(0)};
    const auto lp1 = s.policy->token_logprobs(one, s.vis, c1);
    EXPECT_LT((lp1[0] - lp[r].narrow(0, 0, n)).abs().max().item<double>(), 1e-5) << "row " << r;
    EXPECT_EQ(lp[r].narrow(0, n, 4 - n).abs().sum().item<double>(), 0.0);
  }
}

TEST(Policy, ExpandedCacheEqualsRecomputedRows) {
  PolicySetup s;
  torch::NoGradGuard g;
  PromptBatch two{{test::prompt({1, 2}, 6, {3}), test::prompt({1, 2, 4}, 6, {3, 5})}, {0, 1}};
  KVCache cache;
  auto logits = s.policy->prefill(two, s.vis, cache);
  auto expanded = cache.expand(3);
  PromptBatch six;
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k) {
      six.tokens.push_back(two.tokens[r]);
      six.image.push_back(two.image[r]);
    }
  KVCache ref;
  s.policy->prefill(six, s.vis, ref);
  const auto toks = torch::tensor({1, 2, 3, 4, 5, 6}, torch::kInt64);
  const auto a = s.policy->decode_step(expanded, toks);
  const auto b = s.policy->decode_step(ref, toks);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
}

TEST(Policy, SharedPrefixMemoFollowsParameterChanges) {
  PolicySetup s;
  torch::NoGradGuard g;
  PromptBatch pb{{test::prompt({1, 2, 3}, 6, {4}), test::prompt({1, 2, 3}, 6, {5})}, {0, 1}};
  KVCache c1, c2, c3;
  const auto a = s.policy->prefill(pb, s.vis, c1);
  const auto b = s.policy->prefill(pb, s.vis, c2);  // memoised prefix
  EXPECT_TRUE(torch::equal(a, b));
  for (auto& p : s.policy->decoder().parameters()) p.add_(0.01);
  const auto c = s.policy->prefill(pb, s.vis, c3);
  s.policy->clear_prefix_cache();
  KVCache c4;
  const auto d = s.policy->prefill(pb, s.vis, c4);
  EXPECT_TRUE(torch::allclose(c, d, 1e-6, 1e-6)) << "stale memoised prefix after a parameter change";
  EXPECT_FALSE(torch::allclose(a, c));
}

TEST(Policy, ErrorsOnMismatchedImageTokens) {
  PolicySetup s;
  torch::NoGradGuard g;
  KVCache cache;
  PromptBatch wrong{{test::prompt({1}, 5, {2})}, {0}};
  EXPECT_THROW(s.policy->prefill(wrong, s.vis, cache), Error);
  PromptBatch no_image{{test::prompt({1}, 6, {2})}, {-1}};
  KVCache c2;
  EXPECT_THROW(s.policy->prefill(no_image, s.vis, c2), Error);
  PromptBatch bad_index{{test::prompt({1}, 6, {2})}, {7}};
  KVCache c3;
  EXPECT_THROW(s.policy->prefill(bad_index, s.vis, c3), Error);
}

// hawkeye-tiny's auxiliary head owns its loss and its score: smooth L1 of (score column + 3) against the score,
// plus the cross-entropy of the type (columns 1..25) and of the level (26..30) over the images that have one;
// a model without the head has neither.
TEST(Policy, AuxiliaryHeadOwnsItsLossAndScores) {
  auto c = test::small_tiny_config();
  c.vision.aux_head = true;
  torch::manual_seed(4);
  auto policy = std::make_shared<TinyVlm>(c);
  policy->eval();
  const auto a = test::random_image(40, 30, 1), b = test::random_image(40, 30, 2), d = test::random_image(40, 30, 3);
  torch::NoGradGuard g;
  const auto vis = policy->encode_images(policy->preprocess({&a, &b, &d}));
  const auto out = policy->auxiliary_outputs(vis).to(torch::kFloat64);
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{3, TinyVlm::kAuxOutputs}));
  const auto scores = policy->auxiliary_scores(vis);
  ASSERT_EQ(scores.size(), 3u);
  for (std::int64_t k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(scores[k], out[k][0].item<double>() + 3.0);

  // Types: image 1 has none (0) and image 2 one out of range (26): only image 0's counts. Levels: all three.
  const AuxTargets targets{{4.2, 1.5, 3.0}, {7, 0, 26}, {1, 5, 3}};
  const auto ce = [&](std::int64_t k, std::int64_t from, std::int64_t classes, int label) {
    const auto logits = out[k].narrow(0, from, classes);
    return torch::logsumexp(logits, 0).item<double>() - logits[label - 1].item<double>();
  };
  double expected = 0;
  for (std::int64_t k = 0; k < 3; ++k) {
    const double diff = std::abs(out[k][0].item<double>() + 3.0 - targets.scores[k]);
    expected += (diff < 1.0 ? 0.5 * diff * diff : diff - 0.5) / 3.0;
  }
  expected += ce(0, 1, 25, 7);
  expected += (ce(0, 26, 5, 1) + ce(1, 26, 5, 5) + ce(2, 26, 5, 3)) / 3.0;
  const auto loss = policy->auxiliary_loss(vis, targets);
  ASSERT_TRUE(loss.defined());
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(loss.item<double>(), expected, 1e-5);
  // No type at all: that term is left out (not a NaN mean over nothing).
  const auto untyped = policy->auxiliary_loss(vis, {{4.2, 1.5, 3.0}, {0, 0, 0}, {1, 5, 3}});
  EXPECT_NEAR(untyped.item<double>(), expected - ce(0, 1, 25, 7), 1e-5);
  EXPECT_THROW(policy->auxiliary_loss(vis, {{4.2}, {7}, {1}}), Error);

  auto plain = test::small_tiny();
  const auto plain_vis = plain->encode_images(plain->preprocess({&a}));
  EXPECT_FALSE(plain->auxiliary_loss(plain_vis, {{4.2}, {7}, {1}}).defined());
  EXPECT_TRUE(plain->auxiliary_scores(plain_vis).empty());
}

TEST(Generate, SameSeedSameSamplesWhateverTheBatch) {
  PolicySetup s;
  SamplingParams sp;
  sp.temperature = 4.0;  // flatten the small random model's distribution so samples vary
  sp.top_k = 20;
  sp.top_p = 0.95;
  sp.max_new_tokens = 24;
  sp.stop_ids = {63};
  GenerationRequest a{test::prompt({1, 2}, 6, {3}), 0, 4, 123};
  GenerationRequest b{test::prompt({1, 2, 5, 5}, 6, {3, 4}), 1, 2, 456};
  const auto alone = generate(*s.policy, s.vis, {a}, sp);
  const auto together = generate(*s.policy, s.vis, {b, a}, sp);
  ASSERT_EQ(alone.size(), 4u);
  ASSERT_EQ(together.size(), 6u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(alone[k].tokens, together[2 + k].tokens) << "sample " << k;
    EXPECT_EQ(together[2 + k].request, 1);
    EXPECT_EQ(together[2 + k].sample, k);
  }
  // different samples of one prompt differ (they have their own streams)
  EXPECT_NE(alone[0].tokens, alone[1].tokens);
  const auto again = generate(*s.policy, s.vis, {a}, sp);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(again[k].tokens, alone[k].tokens);
}

TEST(Generate, InPartsTheSequencesDependOnThePartsNeverOnTheThreadCount) {
  PolicySetup s;
  SamplingParams sp;
  sp.temperature = 4.0;  // varied samples and lengths from the small random model
  sp.top_k = 20;
  sp.max_new_tokens = 24;
  sp.stop_ids = {63, 17};
  const std::vector<GenerationRequest> reqs{{test::prompt({1, 2}, 6, {3}), 0, 4, 11},       {test::prompt({1, 2}, 6, {3, 4, 4, 4}), 2, 2, 12},
                                            {test::prompt({1, 2}, 6, {9, 3}), 1, 3, 13},    {test::prompt({1, 2}, 6, {3}), 0, 1, 14},
                                            {test::prompt({1, 2}, 6, {8, 8, 8, 8, 8}), 2, 4, 15}};
  const Detokenizer text = [](const std::vector<std::int64_t>& ids) {
    std::string t;
    for (auto id : ids) t += std::to_string(id) + ",";
    return t;
  };
  GenerationStats one_stats;
  std::vector<GeneratedSequence> one;
  {
    const OpenMPThreadsWhile one_core(1);
    one = generate(*s.policy, s.vis, reqs, sp, text, &one_stats);
  }
  ASSERT_EQ(one.size(), 14u);
  bool stopped = false, ran_out = false;
  for (const auto& q : one) (q.finish_reason == "stop" ? stopped : ran_out) = true;
  ASSERT_TRUE(stopped && ran_out) << "the case should hold rows that end early and rows that run to the limit";
  const auto same = [](const std::vector<GeneratedSequence>& a, const std::vector<GeneratedSequence>& b, bool exact, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].request, b[i].request) << what << ", row " << i;
      EXPECT_EQ(a[i].sample, b[i].sample) << what << ", row " << i;
      EXPECT_EQ(a[i].tokens, b[i].tokens) << what << ", row " << i;
      EXPECT_EQ(a[i].finish_reason, b[i].finish_reason) << what << ", row " << i;
      EXPECT_EQ(a[i].text, b[i].text) << what << ", row " << i;
      ASSERT_EQ(a[i].logprobs.size(), b[i].logprobs.size()) << what << ", row " << i;
      if (exact) {
        EXPECT_EQ(a[i].logprobs, b[i].logprobs) << what << ", row " << i;  // bit for bit
      } else {
        for (std::size_t t = 0; t < a[i].logprobs.size(); ++t) EXPECT_NEAR(a[i].logprobs[t], b[i].logprobs[t], 1e-5) << what << ", row " << i;
      }
    }
  };
  for (int parts : {0, 1, 2, 3, 5, 9}) {
    std::vector<GeneratedSequence> first;
    for (int threads : {1, 2, 4}) {
      GenerationStats st;
      const auto got = generate_in_parts(*s.policy, s.vis, reqs, sp, parts, threads, text, &st);
      const std::string what = std::to_string(parts) + " parts, " + std::to_string(threads) + " threads";
      EXPECT_EQ(st.generated_tokens, one_stats.generated_tokens) << what;
      // one part is generate() on one core; more parts change the log-probs' last bits (a row's batch), not the tokens
      same(one, got, parts <= 1, what + " vs one batch");
      if (first.empty()) first = got;
      else same(first, got, true, what + " vs 1 thread");
    }
  }
  // a request naming an image the embeddings do not hold is refused from any part
  auto bad = reqs;
  bad[4].image = 3;
  EXPECT_THROW(generate_in_parts(*s.policy, s.vis, bad, sp, 3, 2), Error);
  EXPECT_TRUE(generate_in_parts(*s.policy, s.vis, {}, sp, 2, 2).empty());
}

TEST(Generate, LogprobsMatchTokenLogprobs) {
  PolicySetup s;
  SamplingParams sp;
  sp.max_new_tokens = 16;
  GenerationRequest a{test::prompt({1, 2}, 6, {3}), 2, 3, 9};
  const auto seqs = generate(*s.policy, s.vis, {a}, sp);
  torch::NoGradGuard g;
  for (const auto& seq : seqs) {
    PromptBatch pb{{a.prompt}, {a.image}};
    CompletionBatch c{torch::tensor(seq.tokens, torch::kInt64).unsqueeze(0), torch::ones({1, (long)seq.tokens.size()}, torch::kBool)};
    const auto lp = s.policy->token_logprobs(pb, s.vis, c)[0];
    for (std::size_t t = 0; t < seq.tokens.size(); ++t) EXPECT_NEAR(lp[t].item<float>(), seq.logprobs[t], 1e-5);
    EXPECT_EQ(seq.finish_reason, "length");
  }
}

TEST(Generate, VocabLimitKeepsIdsBelowItWithFullDistributionLogprobs) {
  PolicySetup s;
  SamplingParams sp;
  sp.max_new_tokens = 24;
  sp.top_k = 0;  // every allowed id is a candidate
  const std::int64_t V = s.policy->config().text.vocab_size;
  sp.vocab_limit = V / 2;
  GenerationRequest a{test::prompt({1, 2}, 6, {3}), 1, 4, 5};
  const auto seqs = generate(*s.policy, s.vis, {a}, sp);
  torch::NoGradGuard g;
  for (const auto& seq : seqs) {
    for (auto t : seq.tokens) EXPECT_LT(t, V / 2);
    PromptBatch pb{{a.prompt}, {a.image}};
    CompletionBatch c{torch::tensor(seq.tokens, torch::kInt64).unsqueeze(0), torch::ones({1, (long)seq.tokens.size()}, torch::kBool)};
    const auto lp = s.policy->token_logprobs(pb, s.vis, c)[0];
    for (std::size_t t = 0; t < seq.tokens.size(); ++t) EXPECT_NEAR(lp[t].item<float>(), seq.logprobs[t], 1e-5);
  }
}

TEST(Generate, GreedyIsDeterministicAndStops) {
  PolicySetup s;
  SamplingParams sp;
  sp.greedy = true;
  sp.max_new_tokens = 20;
  GenerationRequest a{test::prompt({1, 2}, 6, {3}), 0, 1, 0};
  const auto x = generate(*s.policy, s.vis, {a}, sp);
  const auto y = generate(*s.policy, s.vis, {a}, sp);
  EXPECT_EQ(x[0].tokens, y[0].tokens);
  // stopping on the first greedy token ends the row there, stop token included
  sp.stop_ids = {x[0].tokens[0]};
  const auto z = generate(*s.policy, s.vis, {a}, sp);
  EXPECT_EQ(z[0].tokens.size(), 1u);
  EXPECT_EQ(z[0].finish_reason, "stop");
}

TEST(Generate, SampleTokenRespectsTopKAndTopP) {
  const float logits[5] = {0.f, 3.f, 2.9f, -1.f, 1.f};
  SamplingParams sp;
  sp.top_k = 2;
  std::uint64_t state = 1;
  for (int i = 0; i < 200; ++i) {
    const auto t = sample_token(logits, 5, sp, &state);
    EXPECT_TRUE(t == 1 || t == 2);
  }
  sp.top_k = 0;
  sp.top_p = 0.3;  // the top token alone holds > 30 % of the mass
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_token(logits, 5, sp, &state), 1);
  sp.greedy = true;
  EXPECT_EQ(sample_token(logits, 5, sp, &state), 1);
}

TEST(Policy, GradientsReachVisionAndLanguageModel) {
  PolicySetup s;
  s.policy->train();
  std::vector<const Image*> ptrs{&s.images[0]};
  const auto vis = s.policy->encode_images(s.policy->preprocess(ptrs));
  PromptBatch pb{{test::prompt({1, 2}, 6, {3})}, {0}};
  CompletionBatch c{torch::tensor({{4, 5, 6}}, torch::kInt64), torch::ones({1, 3}, torch::kBool)};
  const auto lp = s.policy->token_logprobs(pb, vis, c);
  lp.sum().backward();
  EXPECT_GT(s.policy->vision()->stem->weight.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : s.policy->decoder().named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
}

TEST(Weights, SaveLoadRoundTripIsBitExact) {
  test::TempDir dir;
  auto a = test::small_tiny(1);
  auto b = test::small_tiny(2);
  save_weights(*a, dir.path() / "w.safetensors");
  load_weights(*b, SafetensorsSet::open(dir.path() / "w.safetensors"));
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
}

TEST(Weights, RefusesMissingMisshapedAndUnexpectedTensors) {
  test::TempDir dir;
  auto a = test::small_tiny(1);
  auto expect_model_error = [&](const std::vector<StTensorToWrite>& tensors, const std::string& words) {
    write_safetensors(dir.path() / "bad.safetensors", tensors);
    auto b = test::small_tiny(2);
    try {
      load_weights(*b, SafetensorsSet::open(dir.path() / "bad.safetensors"));
      ADD_FAILURE() << "accepted: " << words;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::model);
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  std::vector<torch::Tensor> keep;
  std::vector<StTensorToWrite> all;
  auto named = a->named_parameters();
  for (const auto& b : a->named_buffers()) named.insert(b.key(), b.value());
  for (const auto& item : named) {
    auto t = item.value().detach().contiguous();
    keep.push_back(t);
    all.push_back({item.key(), to_st_dtype(t.scalar_type()), t.sizes().vec(), t.data_ptr(), (std::uint64_t)t.nbytes()});
  }
  auto missing = all;
  const std::string dropped = missing.back().name;
  missing.pop_back();
  expect_model_error(missing, "missing tensors: " + dropped);
  auto misshaped = all;
  misshaped[0].shape = {misshaped[0].shape[0] * misshaped[0].shape[1]};
  expect_model_error(misshaped, "wrong shape");
  auto extra = all;
  std::vector<float> x(3, 0.f);
  extra.push_back({"visual.unused", StDtype::F32, {3}, x.data(), 12});
  expect_model_error(extra, "does not have: visual.unused");
  // Issue 18: bytes of a float parameter tagged as I32 were converted as integers (a score of 1.81 became 4.23).
  for (const auto [from, to] : {std::pair{StDtype::F32, StDtype::I32}, std::pair{StDtype::I64, StDtype::F64}}) {
    auto retyped = all;
    const auto it = std::find_if(retyped.begin(), retyped.end(), [&, from = from](const StTensorToWrite& t) { return t.dtype == from; });
    ASSERT_NE(it, retyped.end());
    it->dtype = to;
    expect_model_error(retyped, "dtype the model's cannot be: " + it->name + " (checkpoint " + std::string(st_dtype_name(to)));
  }
  // NaN or Inf weights are a broken model at load time, not answers that never parse later.
  for (const float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    auto poisoned = all;
    auto t = keep[0].clone();
    ASSERT_TRUE(t.is_floating_point());
    t.view(-1)[t.numel() / 2] = bad;
    keep.push_back(t);
    poisoned[0].data = t.data_ptr();
    expect_model_error(poisoned, "tensors holding NaN or Inf: " + poisoned[0].name);
  }
}

TEST(Weights, DtypeCompatibility) {
  for (const auto st : {StDtype::F64, StDtype::F32, StDtype::F16, StDtype::BF16}) {
    EXPECT_TRUE(dtype_can_hold(st, torch::kFloat32));
    EXPECT_TRUE(dtype_can_hold(st, torch::kBFloat16));
    EXPECT_FALSE(dtype_can_hold(st, torch::kInt64));
  }
  for (const auto st : {StDtype::I64, StDtype::I32, StDtype::I16, StDtype::I8, StDtype::U8, StDtype::BOOL}) {
    EXPECT_FALSE(dtype_can_hold(st, torch::kFloat32)) << st_dtype_name(st);
  }
  EXPECT_TRUE(dtype_can_hold(StDtype::I32, torch::kInt64));
  EXPECT_FALSE(dtype_can_hold(StDtype::BOOL, torch::kInt64));
  EXPECT_TRUE(dtype_can_hold(StDtype::BOOL, torch::kBool));
}

// A diverged model (lr = nan) is never written: not as a checkpoint, not as final/.
TEST(ModelDir, RefusesToWriteNonFiniteWeights) {
  test::TempDir dir;
  auto a = test::small_tiny(1);
  const auto save = [&] {
    save_model_dir(dir.path() / "final", *a, a->config().to_json(), IqaContract{}, dir.path() / "tok.json");
  };
  write_file_atomic(dir.path() / "tok.json", "{}");
  save();
  const auto before = read_file(dir.path() / "final" / "model.safetensors");
  {
    torch::NoGradGuard g;
    a->named_parameters()["lm.model.embed_tokens.weight"].view(-1)[3] = NAN;
  }
  try {
    save();
    ADD_FAILURE() << "wrote NaN weights";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::numerical);
    EXPECT_NE(std::string(e.what()).find("not written: parameters holding NaN or Inf: lm.model.embed_tokens.weight"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(dir.path() / "final" / "model.safetensors"), before);  // the good one stays
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"final", "tok.json"}));
}

// Issue 18: a 65535x1 strip was scaled down to the pixel cap, then up to min_side (2,097,120x32, > 14.5 GB).
// Every size within the aspect limit ends within max_pixels; beyond it the image is refused.
TEST(TinyPreprocess, InputSizeStaysWithinThePixelCapAndTheAspectLimit) {
  TinyVisionConfig c;  // max_pixels 786432, min_side 32
  struct Case {
    int w, h, want_w, want_h;
  };
  const std::vector<Case> cases = {
      {512, 384, 512, 384},      // within limits: unchanged
      {1024, 768, 1024, 768},    // exactly max_pixels
      {4000, 3000, 1024, 768},   // scaled down
      {16, 16, 32, 32},          // scaled up to min_side
      {64, 1, 2048, 32},         // the most elongated (64:1), up to min_side
      {1, 64, 32, 2048},
      {65535, 1024, 7094, 110},  // 64:1 and large: down only
      {2048, 32, 2048, 32},
  };
  for (const auto& k : cases) {
    const auto got = tiny_input_size(k.w, k.h, c);
    EXPECT_EQ(got.width, k.want_w) << k.w << "x" << k.h;
    EXPECT_EQ(got.height, k.want_h) << k.w << "x" << k.h;
    EXPECT_LE(static_cast<std::int64_t>(got.width) * got.height, c.max_pixels);
  }
  for (const auto [w, h] : {std::pair{65535, 1}, std::pair{16384, 1}, std::pair{65, 1}, std::pair{1, 65535}, std::pair{6500, 100}}) {
    try {
      tiny_input_size(w, h, c);
      ADD_FAILURE() << w << "x" << h << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
      EXPECT_NE(std::string(e.what()).find("more elongated than the limit of 64:1"), std::string::npos) << e.what();
    }
  }
  // A config whose min_side and max_pixels disagree: the pixel cap wins.
  TinyVisionConfig odd;
  odd.max_pixels = 1024;
  odd.min_side = 64;
  const auto got = tiny_input_size(640, 10, odd);
  EXPECT_LE(static_cast<std::int64_t>(got.width) * got.height, odd.max_pixels);
  // The model refuses it in preprocessing, and tells loaders its limit.
  auto m = test::small_tiny(1);
  EXPECT_EQ(m->max_aspect_ratio(), kTinyMaxAspectRatio);
  const auto strip = test::random_image(130, 2, 1);
  EXPECT_THROW(m->preprocess({&strip}), Error);
}

TEST(ModelDir, SaveReadLoadAndDescribe) {
  test::TempDir dir;
  auto a = test::small_tiny(1);
  write_file_atomic(dir.path() / "tok.json", "{}");
  IqaContract contract;
  contract.model_id = "test-tiny";
  contract.prompt = {{"preset", "qhawkeye-infer"}};
  save_model_dir(dir.path() / "m", *a, a->config().to_json(), contract, dir.path() / "tok.json", {{"MODEL_CARD.md", "# card\n"}});
  const auto md = read_model_dir(dir.path() / "m");
  EXPECT_EQ(md.architecture, "hawkeye-tiny");
  EXPECT_EQ(md.contract.model_id, "test-tiny");
  const auto loaded = load_policy(md);
  torch::NoGradGuard g;
  auto img = test::random_image(64, 48, 5);
  const auto va = a->encode_images(a->preprocess({&img}));
  const auto vb = loaded->encode_images(loaded->preprocess({&img}));
  EXPECT_TRUE(torch::equal(va.embeds, vb.embeds));
  const auto info = describe_model_dir(dir.path() / "m");
  EXPECT_EQ(info["parameters"].get<std::int64_t>(), a->parameter_count());
  EXPECT_GT(info["gflops_per_image"].get<double>(), 0.0);
  // a directory without its weights is refused with the file named
  fs::remove(dir.path() / "m" / "model.safetensors");
  EXPECT_THROW(read_model_dir(dir.path() / "m"), Error);
  // a bad config value names the key
  save_model_dir(dir.path() / "m2", *a, a->config().to_json(), contract, dir.path() / "tok.json");
  auto cfg = nlohmann::json::parse(read_file(dir.path() / "m2" / "config.json"));
  cfg["text_config"]["num_attention_heads"] = 5;
  write_file_atomic(dir.path() / "m2" / "config.json", cfg.dump());
  try {
    load_policy(read_model_dir(dir.path() / "m2"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model);
    EXPECT_NE(std::string(e.what()).find("num_attention_heads"), std::string::npos) << e.what();
  }
}

// vision_config.quality_embedding: a zero-initialised linear embedding of the auxiliary head's outputs added to
// each image's visual tokens. At zero the model is exactly the one without it (a checkpoint without its
// tensors loads it as zero); trained, it changes what the language model reads, and gradients reach it.
TEST(Policy, QualityEmbeddingStartsAsTheModelWithoutItAndLearns) {
  auto c = test::small_tiny_config();
  c.vision.aux_head = true;
  torch::manual_seed(4);
  auto plain = std::make_shared<TinyVlm>(c);
  c.vision.quality_embedding = true;
  auto quality = std::make_shared<TinyVlm>(c);
  {
    torch::NoGradGuard g;
    const auto from = plain->named_parameters();
    std::size_t copied = 0;
    for (auto& p : quality->named_parameters()) {
      if (p.key().rfind("quality_embed.", 0) == 0) {
        EXPECT_EQ(p.value().abs().max().item<double>(), 0.0) << p.key();
        continue;
      }
      p.value().copy_(from[p.key()]);
      ++copied;
    }
    EXPECT_EQ(copied, from.size());
  }
  plain->eval();
  quality->eval();
  const auto a = test::random_image(64, 48, 1), b = test::random_image(40, 56, 2);
  PromptBatch pb{{test::prompt({1, 2, 3}, 6, {9}), test::prompt({1, 2}, 6, {4, 5})}, {0, 1}};
  CompletionBatch comp;
  comp.tokens = torch::tensor({{3, 4, 5}, {6, 7, 8}}, torch::kInt64);
  comp.mask = torch::ones_like(comp.tokens, torch::kBool);
  const auto logprobs = [&](TinyVlm& p) {
    torch::NoGradGuard g;
    const auto vis = p.encode_images(p.preprocess({&a, &b}));
    return p.token_logprobs(pb, vis, comp);
  };
  EXPECT_TRUE(torch::equal(logprobs(*plain), logprobs(*quality)));

  // The features: the score offset, its interpolation over the anchors 1.0, 1.25 … 5.0, type and level probabilities.
  auto aux = torch::zeros({1, TinyVlm::kAuxOutputs});
  aux[0][0] = 0.1;  // score 3.1: anchors 3.0 (index 8) and 3.25 (index 9) with weights 0.6 and 0.4
  const auto f = TinyVlm::quality_features(aux);
  ASSERT_EQ(f.sizes(), (std::vector<std::int64_t>{1, TinyVlm::kQualityFeatures}));
  EXPECT_NEAR(f[0][0].item<double>(), 0.1, 1e-6);
  EXPECT_NEAR(f[0][1 + 8].item<double>(), 0.6, 1e-5);
  EXPECT_NEAR(f[0][1 + 9].item<double>(), 0.4, 1e-5);
  EXPECT_NEAR(f[0].narrow(0, 1, TinyVlm::kQualityAnchors).sum().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(f[0].narrow(0, 1 + TinyVlm::kQualityAnchors, TinyVlm::kAuxTypes).sum().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(f[0].narrow(0, 1 + TinyVlm::kQualityAnchors + TinyVlm::kAuxTypes, TinyVlm::kAuxLevels).sum().item<double>(), 1.0, 1e-6);

  // A model directory saved without the embedding loads into one with it switched on: zeros, same answers.
  test::TempDir tmp;
  IqaContract contract;
  contract.model_id = "quality";
  contract.prompt = {{"preset", "qhawkeye-infer"}};
  const auto tokenizer = test::source_dir() / "resources/tokenizers/hawkeye-byte/tokenizer.json";
  save_model_dir(tmp.path() / "plain", *plain, plain->config().to_json(), contract, tokenizer);
  auto config = nlohmann::json::parse(read_file(tmp.path() / "plain" / "config.json"));
  config["vision_config"]["quality_embedding"] = true;
  write_file_atomic(tmp.path() / "plain" / "config.json", config.dump());
  const auto switched = std::dynamic_pointer_cast<TinyVlm>(load_policy(read_model_dir(tmp.path() / "plain")));
  ASSERT_TRUE(switched);
  switched->eval();
  EXPECT_TRUE(torch::equal(logprobs(*plain), logprobs(*switched)));
  // Without the auxiliary head the embedding has nothing to read; a value that is not a boolean is refused.
  auto not_boolean = config;
  not_boolean["vision_config"]["quality_embedding"] = "yes";
  EXPECT_THROW(TinyConfig::from_json(not_boolean, "config.json"), Error);
  config["vision_config"]["aux_head"] = false;
  EXPECT_THROW(TinyConfig::from_json(config, "config.json"), Error);

  // Gradients reach the embedding, and a non-zero one changes the answers and round-trips.
  {
    const auto vis = quality->encode_images(quality->preprocess({&a, &b}));
    quality->token_logprobs(pb, vis, comp).sum().backward();
    auto params = quality->named_parameters();
    ASSERT_TRUE(params["quality_embed.weight"].grad().defined());
    EXPECT_GT(params["quality_embed.weight"].grad().abs().max().item<double>(), 0.0);
    torch::NoGradGuard g;
    params["quality_embed.weight"].normal_(0.0, 0.5);
  }
  EXPECT_FALSE(torch::equal(logprobs(*plain), logprobs(*quality)));
  save_model_dir(tmp.path() / "quality", *quality, quality->config().to_json(), contract, tokenizer);
  const auto loaded = std::dynamic_pointer_cast<TinyVlm>(load_policy(read_model_dir(tmp.path() / "quality")));
  loaded->eval();
  EXPECT_TRUE(torch::equal(logprobs(*quality), logprobs(*loaded)));
}
