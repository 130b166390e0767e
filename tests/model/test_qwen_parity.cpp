// Parity of hawkeye's Qwen2.5-VL with Hugging Face transformers on a tiny random model.
//
// The fixture folder tests/parity/fixtures/qwen2_5_vl_tiny (or $HAWKEYE_QWEN_FIXTURE) is made by
// tests/parity/make_qwen_fixture.py with PyTorch and transformers (tests/parity/run_on_gpu.sh; meta.json
// in the folder names the versions). It holds the model directory (bf16 safetensors as transformers
// saved them, config.json, preprocessor_config.json, tokenizer.json, hawkeye.json), image.png and
// reference.safetensors: the prompt ids, the processor's pixel values, the float32 logits of every prompt
// position, 16 greedy ids and the logits of each greedy step. Without the folder every test here skips.
#include <gtest/gtest.h>

#include <cstdlib>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/image/io.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/qwen2_5_vl.h"
#include "hawkeye/model/weights.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

constexpr double kLogitTolerance = 1e-4;  // float32, the bound

fs::path fixture_dir() {
  if (const char* env = std::getenv("HAWKEYE_QWEN_FIXTURE"); env && *env) return env;
  return test::source_dir() / "tests" / "parity" / "fixtures" / "qwen2_5_vl_tiny";
}

struct Fixture {
  fs::path dir = fixture_dir();
  SafetensorsSet ref;
  nlohmann::json meta;
  std::unique_ptr<IqaModel> model;
  Qwen2_5_VL* qwen = nullptr;

  bool load(std::string* why) {
    std::error_code ec;
    if (!fs::exists(dir / "reference.safetensors", ec) || !fs::exists(dir / "model.safetensors", ec)) {
      *why = "no Qwen2.5-VL parity fixture at " + dir.string() +
             " (make it with tests/parity/run_on_gpu.sh on a machine with PyTorch and transformers; see docs/qwen.md)";
      return false;
    }
    ref = SafetensorsSet::open(dir / "reference.safetensors");
    meta = nlohmann::json::parse(read_file(dir / "meta.json"));
    model = std::make_unique<IqaModel>(IqaModel::load(dir.string()));
    qwen = dynamic_cast<Qwen2_5_VL*>(&model->policy());
    return qwen != nullptr;
  }
  bool has(const std::string& name) const { return ref.find(name) != nullptr; }
  torch::Tensor tensor(const std::string& name, torch::ScalarType dtype) const {
    const auto* e = ref.find(name);
    if (!e) throw std::runtime_error("reference.safetensors has no tensor '" + name + "'");
    return tensor_from_entry(*e, dtype);
  }
  std::vector<std::int64_t> ids(const std::string& name) const {
    const auto t = tensor(name, torch::kInt64).contiguous();
    return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + t.numel());
  }
  // The visual embeddings of the processor's own pixel values (isolates the model from resampling).
  VisualEmbeds reference_visuals() const {
    const auto thw = ids("image_grid_thw");
    VisionInput in;
    in.pixels.push_back(tensor("pixel_values", torch::kFloat32));
    const std::int64_t M = qwen->config().vision.spatial_merge_size;
    in.grid.push_back({thw[0], thw[1] / M, thw[2] / M});
    return qwen->encode_images(in);
  }
};

#define LOAD_FIXTURE(f)                      \
  Fixture f;                                 \
  {                                          \
    std::string why;                         \
    if (!f.load(&why)) GTEST_SKIP() << why;  \
  }

// Logits of every prompt position in one pass (what transformers' forward returns).
torch::Tensor all_prompt_logits(Qwen2_5_VL& q, const std::vector<std::int64_t>& ids, const VisualEmbeds& vis) {
  auto& dec = q.decoder();
  const auto id_tensor = torch::tensor(ids, torch::kInt64);
  auto emb = dec.embed(id_tensor);
  const auto mask = (id_tensor == q.image_token_id()).unsqueeze(-1);
  emb = emb.masked_scatter(mask, vis.embeds.to(emb.scalar_type()));
  std::int64_t next = 0;
  DecoderChunk chunk;
  chunk.embeds = emb.unsqueeze(0);
  chunk.positions = q.prompt_positions(ids, &vis.grid[0], &next).unsqueeze(1);
  chunk.valid = torch::ones({1, static_cast<std::int64_t>(ids.size())}, torch::kBool);
  KVSegment seg;
  return dec.logits(dec.forward(chunk, nullptr, seg))[0];
}

}  // namespace

TEST(QwenParity, PromptIdsMatchTransformers) {
  LOAD_FIXTURE(f);
  const auto size = f.meta.at("image_size");
  const auto& ours = f.model->prompt_ids(size[0].get<int>(), size[1].get<int>());
  EXPECT_EQ(ours, f.ids("input_ids"));
}

TEST(QwenParity, PixelValuesMatchThePillowProcessor) {
  LOAD_FIXTURE(f);
  const Image img = load_image(f.dir / "image.png");
  const auto in = f.qwen->preprocess({&img});
  const auto theirs = f.tensor("pixel_values", torch::kFloat32);
  ASSERT_EQ(in.pixels[0].sizes(), theirs.sizes());
  const auto thw = f.ids("image_grid_thw");
  EXPECT_EQ(in.grid[0], (Grid{thw[0], thw[1] / 2, thw[2] / 2}));
  const double diff = (in.pixels[0] - theirs).abs().max().item<double>();
  std::cout << "[ parity ] pixel values: max |diff| " << diff << " vs " << f.meta.value("image_processor", std::string("?")) << "\n";
  // Bit-exact resampling; the float32 normalisation may round differently by an ulp or two.
  EXPECT_LE(diff, 2e-6);
}

TEST(QwenParity, LogitsOfEveryPromptPositionMatchTransformers) {
  LOAD_FIXTURE(f);
  torch::NoGradGuard g;
  const auto vis = f.reference_visuals();
  if (f.has("image_embeds")) {
    const auto theirs = f.tensor("image_embeds", torch::kFloat32);
    if (theirs.sizes() == vis.embeds.sizes()) {
      const double d = (vis.embeds - theirs).abs().max().item<double>();
      std::cout << "[ parity ] visual embeddings: max |diff| " << d << "\n";
      EXPECT_LE(d, kLogitTolerance);
    }
  }
  const auto ids = f.ids("input_ids");
  if (f.has("position_ids")) {
    std::int64_t next = 0;
    EXPECT_TRUE(torch::equal(f.qwen->prompt_positions(ids, &vis.grid[0], &next), f.tensor("position_ids", torch::kInt64)))
        << "multimodal position ids differ from get_rope_index";
  }
  const auto ours = all_prompt_logits(*f.qwen, ids, vis);
  const auto theirs = f.tensor("logits", torch::kFloat32);
  ASSERT_EQ(ours.sizes(), theirs.sizes());
  const auto diff = (ours - theirs).abs();
  const double worst = diff.max().item<double>();
  std::cout << "[ parity ] prompt logits (" << ours.size(0) << " positions x " << ours.size(1) << "): max |diff| " << worst
            << ", logit scale " << theirs.abs().max().item<double>() << "\n";
  EXPECT_LE(worst, kLogitTolerance) << "worst position " << diff.amax(1).argmax().item<std::int64_t>();
  // Prefill through the Policy (shared prefix, padding machinery) ends on the same last-position logits.
  KVCache cache;
  const auto last = f.qwen->prefill(PromptBatch{{ids}, {0}}, vis, cache);
  EXPECT_LE((last[0] - theirs[theirs.size(0) - 1]).abs().max().item<double>(), kLogitTolerance);
}

TEST(QwenParity, GreedyDecodingMatchesTransformers) {
  LOAD_FIXTURE(f);
  torch::NoGradGuard g;
  const auto want = f.ids("greedy_ids");
  const auto step_logits = f.tensor("step_logits", torch::kFloat32);
  // From the PNG through our own preprocessing, prompt and generation, as `hawkeye score` runs.
  const Image img = load_image(f.dir / "image.png");
  auto& policy = f.model->policy();
  const auto vis = policy.encode_images(policy.preprocess({&img}));
  const auto& prompt = f.model->prompt_ids(img.width, img.height);
  SamplingParams sp;
  sp.greedy = true;
  sp.max_new_tokens = static_cast<std::int64_t>(want.size());
  sp.stop_ids = f.model->stop_ids();
  const auto seqs = generate(policy, vis, {GenerationRequest{prompt, 0, 1, 0}}, sp);
  ASSERT_EQ(seqs.size(), 1u);
  EXPECT_EQ(seqs[0].tokens, want);
  // And the logits of every decoding step (cache + multimodal positions while decoding).
  KVCache cache;
  auto logits = policy.prefill(PromptBatch{{prompt}, {0}}, vis, cache);
  double worst = 0;
  for (std::int64_t s = 0; s < static_cast<std::int64_t>(want.size()) && s < step_logits.size(0); ++s) {
    worst = std::max(worst, (logits[0] - step_logits[s]).abs().max().item<double>());
    logits = policy.decode_step(cache, torch::tensor({want[s]}, torch::kInt64));
  }
  std::cout << "[ parity ] greedy ids " << (seqs[0].tokens == want ? "identical" : "DIFFER") << "; step logits max |diff| " << worst << "\n";
  EXPECT_LE(worst, kLogitTolerance);
}
