// The architecture table (architecture.h): one entry per architecture, and a model directory of each
// round-trips through save_model_dir, read_model_dir, load_policy and describe_model_dir (`hawkeye info`).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/model/architecture.h"
#include "hawkeye/model/decoder.h"
#include "hawkeye/model/model_dir.h"
#include "model_fixtures.h"
#include "qwen_fixtures.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

struct Sample {
  std::shared_ptr<Policy> policy;
  nlohmann::json config;
};

// One small random model per architecture of the table (a new entry needs one here).
std::map<std::string, std::function<Sample()>> samples() {
  return {
      {TinyVlm::kArchitecture, [] { auto m = test::small_tiny(3); return Sample{m, m->config().to_json()}; }},
      {Qwen2_5_VL::kArchitecture, [] { auto m = test::tiny_qwen(3); return Sample{m, m->config().to_json()}; }},
  };
}

fs::path byte_tokenizer() { return test::source_dir() / "resources/tokenizers/hawkeye-byte/tokenizer.json"; }

IqaContract round_trip_contract() {
  IqaContract c;
  c.model_id = "round-trip";
  c.prompt = {{"preset", "qhawkeye-infer"}};
  return c;
}

}  // namespace

TEST(ArchitectureTable, NamesAreUniqueAndEveryEntryCanCreateAndDescribe) {
  std::set<std::string> names;
  for (const auto& a : architectures()) {
    EXPECT_FALSE(a.name.empty());
    EXPECT_TRUE(names.insert(a.name).second) << "two entries are named " << a.name;
    EXPECT_TRUE(a.create) << a.name;
    EXPECT_TRUE(a.describe) << a.name;
    EXPECT_EQ(find_architecture(a.name), &a);
  }
  std::set<std::string> sampled;
  for (const auto& [name, make] : samples()) sampled.insert(name);
  EXPECT_EQ(names, sampled) << "every architecture of the table has a round-trip sample in this file";
}

TEST(ArchitectureTable, EachArchitectureRoundTripsThroughSaveLoadAndDescribe) {
  for (const auto& [name, make] : samples()) {
    SCOPED_TRACE(name);
    test::TempDir tmp;
    const Sample s = make();
    ASSERT_EQ(s.policy->architecture(), name);
    EXPECT_EQ(architecture_name(s.config), name);
    // The entry builds the same architecture from the config the model writes.
    {
      const auto built = architecture(name, "config.json").create(s.config, "config.json");
      EXPECT_EQ(built->architecture(), name);
      EXPECT_EQ(built->parameter_count(), s.policy->parameter_count());
    }
    save_model_dir(tmp.path() / "m", *s.policy, s.config, round_trip_contract(), byte_tokenizer());
    const auto md = read_model_dir(tmp.path() / "m");
    EXPECT_EQ(md.architecture, name);
    EXPECT_FALSE(md.default_contract);
    EXPECT_EQ(md.contract.model_id, "round-trip");

    const auto loaded = load_policy(md);
    EXPECT_EQ(loaded->architecture(), name);
    const auto mine = s.policy->named_parameters(), theirs = loaded->named_parameters();
    EXPECT_EQ(mine.size(), theirs.size());
    for (const auto& item : mine) {
      ASSERT_TRUE(theirs.contains(item.key())) << item.key();
      EXPECT_TRUE(torch::equal(item.value(), theirs[item.key()])) << item.key();
    }
    torch::NoGradGuard no_grad;
    const auto image = test::random_image(64, 48, 5);
    const auto a = s.policy->encode_images(s.policy->preprocess({&image}));
    const auto b = loaded->encode_images(loaded->preprocess({&image}));
    EXPECT_TRUE(torch::equal(a.embeds, b.embeds)) << "the loaded model sees images as the saved one";

    const auto info = describe_model_dir(tmp.path() / "m");
    EXPECT_EQ(info["architecture"], name);
    EXPECT_EQ(info["model_id"], "round-trip");
    EXPECT_EQ(info["parameters"].get<std::int64_t>(), s.policy->parameter_count());
    EXPECT_EQ(info["prompt"].dump(), round_trip_contract().prompt.dump());
    // Every line the entry describes is in `hawkeye info`, between the common lines and the contract's.
    const auto described = architecture(name, "").describe(md, info["parameters"].get<std::int64_t>());
    EXPECT_FALSE(described.empty());
    for (const auto& [key, value] : described.items()) {
      ASSERT_TRUE(info.contains(key)) << key;
      EXPECT_EQ(info.at(key), value) << key;
    }
    std::vector<std::string> keys;
    for (const auto& [key, value] : info.items()) keys.push_back(key);
    EXPECT_EQ(keys[8], described.begin().key());
    EXPECT_EQ(keys[8 + described.size()], "prompt");
  }
}

TEST(ArchitectureTable, DescribeGivesTheComputePerImageOfEachArchitecture) {
  test::TempDir tmp;
  auto tiny = test::small_tiny(3);
  save_model_dir(tmp.path() / "tiny", *tiny, tiny->config().to_json(), round_trip_contract(), byte_tokenizer());
  const auto t = describe_model_dir(tmp.path() / "tiny");
  EXPECT_EQ(t["visual_tokens_per_image"].get<std::int64_t>(), 2 * 3);
  EXPECT_GT(t["gflops_per_image"].get<double>(), t["vision_gflops_per_image"].get<double>());

  auto qwen = test::tiny_qwen(3);
  save_model_dir(tmp.path() / "qwen", *qwen, qwen->config().to_json(), round_trip_contract(), byte_tokenizer());
  const auto q = describe_model_dir(tmp.path() / "qwen");
  EXPECT_EQ(q["contract"], "hawkeye.json");
  EXPECT_EQ(q["image_max_pixels"].get<std::int64_t>(), test::tiny_image_config().max_pixels);
  EXPECT_GT(q["per_image_1024x768"]["gflops_per_image"].get<double>(), 0.0);
  // The architecture's own file travels with it.
  EXPECT_TRUE(fs::exists(tmp.path() / "qwen" / "preprocessor_config.json"));
  EXPECT_FALSE(fs::exists(tmp.path() / "tiny" / "preprocessor_config.json"));
}

TEST(ArchitectureTable, UnknownArchitectureIsRefusedByName) {
  const nlohmann::json config = {{"architecture", "no-such-vlm"}};
  try {
    create_policy(config, "cfg.json");
    FAIL() << "an unknown architecture was built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_STREQ(e.what(), "cfg.json: architecture 'no-such-vlm' is not supported by this build");
  }
  EXPECT_EQ(find_architecture("no-such-vlm"), nullptr);
  EXPECT_EQ(architecture_name({{"architectures", {"HubNameForConditionalGeneration"}}}), "HubNameForConditionalGeneration");
  EXPECT_EQ(architecture_name(nlohmann::json::object()), "");

  // A directory of an unknown architecture is read and described, but not loaded.
  test::TempDir tmp;
  auto tiny = test::small_tiny(3);
  auto renamed = tiny->config().to_json();
  renamed["architecture"] = "no-such-vlm";
  save_model_dir(tmp.path() / "m", *tiny, renamed, round_trip_contract(), byte_tokenizer());
  const auto md = read_model_dir(tmp.path() / "m");
  EXPECT_EQ(md.architecture, "no-such-vlm");
  try {
    load_policy(md);
    FAIL() << "an unknown architecture was loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("architecture 'no-such-vlm' is not supported by this build"), std::string::npos) << e.what();
  }
  const auto info = describe_model_dir(tmp.path() / "m");
  EXPECT_EQ(info["architecture"], "no-such-vlm");
  EXPECT_FALSE(info.contains("gflops_per_image"));
}

// Issue 18 item 12: `hidden_size: 1000000000` was refused as "must be positive". The message gives the value
// and the range.
TEST(Architecture, DecoderSizesOutOfRangeNameTheValueAndTheRange) {
  const nlohmann::json base = {{"vocab_size", 300},         {"hidden_size", 64},        {"num_hidden_layers", 2},
                               {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 128}};
  EXPECT_NO_THROW(model::DecoderConfig::from_json(base, "config.json"));
  const std::pair<const char*, std::string> cases[] = {
      {"hidden_size", "hidden_size = 1000000000: expected 1 .. 1048575"},
      {"intermediate_size", "intermediate_size = 1000000000: expected 1 .. 16777215"},
  };
  for (const auto& [key, words] : cases) {
    auto j = base;
    j[key] = 1000000000;
    try {
      (void)model::DecoderConfig::from_json(j, "config.json");
      ADD_FAILURE() << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::model);
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  }
}
