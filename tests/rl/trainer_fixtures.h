// A tiny synthetic set and a tiny model setup for trainer tests (everything generated in the test).
#pragma once
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hawkeye/core/fs.h"
#include "hawkeye/data/pairs.h"
#include "hawkeye/data/synth.h"
#include "hawkeye/image/io.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/core/random.h"
#include "test_util.h"

namespace hawkeye::test {

struct TinyTrainingSetup {
  TempDir dir;
  std::filesystem::path train, test, arch, contract, tokenizer;

  explicit TinyTrainingSetup(bool with_twins = true) {
    // References: smooth synthetic pictures (gradients + shapes), so no shared data is needed.
    const auto refs = dir.path() / "refs";
    fs::create_directories(refs);
    for (int r = 0; r < 4; ++r) {
      Image img(64, 48, 3);
      Rng rng(100 + r);
      const int cx = 10 + static_cast<int>(rng.below(40)), cy = 8 + static_cast<int>(rng.below(30));
      for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x) {
          const bool disk = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 100;
          img.at(x, y, 0) = static_cast<std::uint8_t>(disk ? 220 : 30 + x * 2 + r * 10);
          img.at(x, y, 1) = static_cast<std::uint8_t>(disk ? 40 + r * 30 : 60 + y * 3);
          img.at(x, y, 2) = static_cast<std::uint8_t>(90 + ((x / 8 + y / 8) % 2) * 60);
        }
      save_image(refs / ("ref" + std::to_string(r) + ".png"), img);
    }
    SynthOptions so;
    so.references = {refs};
    so.out_dir = dir.path() / "set";
    so.width = 64;
    so.height = 48;
    so.types = {1, 11, 16};
    so.levels = {1, 3, 5};
    so.splits = {{"train", 0.75}, {"test", 0.25}};
    so.seed = 1;
    so.threads = 1;
    so.progress = false;
    synthesize(so);
    train = dir.path() / "set" / "train.jsonl";
    test = dir.path() / "set" / "test.jsonl";
    if (with_twins) {
      PairsOptions po;
      po.manifest = train;
      po.out_dir = dir.path() / "set";
      po.threads = 1;
      po.progress = false;
      po.pair.similarity = [](const Image& a, const Image& b) { return ssim(a, b); };
      train = build_pairs(po).manifest;
    }
    arch = dir.path() / "arch.json";
    write_file_atomic(arch, nlohmann::json({{"architecture", "hawkeye-tiny"},
                                            {"image_token_id", 261},
                                            {"vision_config", {{"stem_channels", 8}, {"stage_channels", {8, 16}}, {"grid", {2, 3}}}},
                                            {"text_config",
                                             {{"vocab_size", 266},
                                              {"hidden_size", 32},
                                              {"num_hidden_layers", 2},
                                              {"num_attention_heads", 2},
                                              {"num_key_value_heads", 1},
                                              {"intermediate_size", 64}}}})
                                .dump());
    contract = dir.path() / "hawkeye.json";
    write_file_atomic(contract, nlohmann::json({{"format_version", 1},
                                                {"model_id", "test-tiny"},
                                                {"prompt", {{"preset", "qhawkeye-infer"}, {"system", nullptr}, {"user", "Rate it."}}},
                                                {"sampling", {{"max_new_tokens", 40}}}})
                                    .dump());
    tokenizer = source_dir() / "resources" / "tokenizers" / "hawkeye-byte" / "tokenizer.json";
  }

  std::string model_toml() const {
    return "[model]\ninit = \"scratch\"\narchitecture = \"" + arch.string() + "\"\nhawkeye_json = \"" + contract.string() +
           "\"\ntokenizer = \"" + tokenizer.string() + "\"\n[data]\ntrain = \"" + train.string() + "\"\nval = \"" +
           test.string() + "\"\n";
  }
};

// The lines of a run's metrics.jsonl, parsed.
inline std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The step lines of a run's metrics.jsonl (without the {"kind": "validation", ...} lines).
inline std::vector<nlohmann::json> read_step_metrics(const std::filesystem::path& run) {
  auto lines = read_metrics(run);
  lines.erase(std::remove_if(lines.begin(), lines.end(), [](const nlohmann::json& j) { return j.contains("kind"); }), lines.end());
  return lines;
}

}  // namespace hawkeye::test
