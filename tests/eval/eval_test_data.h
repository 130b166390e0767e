// Shared inputs of the eval-layer tests: hand-wired model directories and small generated images.
#pragma once
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "answering_model.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/image/io.h"
#include "test_util.h"

namespace hawkeye::test {

// Skips when the CLI is not built (a build without torch has no binary).
#define REQUIRE_CLI()                                                                      \
  if (std::string(HAWKEYE_CLI).empty() || !fs::exists(HAWKEYE_CLI)) GTEST_SKIP() << "the hawkeye binary is not built"

// One thread: the wired models are tiny, and OpenMP barriers on a busy 2-core machine cost more than they save.
inline CommandResult cli(const std::string& args, bool merge_stderr = false) {
  return run_command(std::string("'") + HAWKEYE_CLI + "' -q --threads 1 " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

inline std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

inline std::vector<nlohmann::json> jsonl_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// One temporary folder per test suite holding:
//   answering/, mute/    model directories (brightness digit; never an <answer>)
//   imgs/a.png (dark), imgs/c.jpg (mid grey), imgs/sub/b.png (bright), imgs/notes.txt (not an image)
//   bad/broken.png       a PNG cut after 40 bytes
//   empty/readme.txt     a folder without images
struct ScoringWorld {
  TempDir tmp;
  fs::path root = tmp.path();
  fs::path model = root / "answering";
  fs::path mute = root / "mute";
  fs::path imgs = root / "imgs";
  ScoringWorld() {
    write_answering_model(model);
    write_answering_model(mute, AnswerMode::no_answer, "mute-test");
    fs::create_directories(imgs / "sub");
    save_image(imgs / "a.png", grey_image(64, 48, 10, 1));
    save_image(imgs / "c.jpg", grey_image(64, 48, 128, 2));
    save_image(imgs / "sub" / "b.png", grey_image(48, 64, 245, 3));
    write_file_atomic(imgs / "notes.txt", "not an image\n");
    fs::create_directories(root / "bad");
    const std::string png = encode_image(grey_image(64, 48, 100, 4), "png");
    write_file_atomic(root / "bad" / "broken.png", png.substr(0, 40));
    fs::create_directories(root / "empty");
    write_file_atomic(root / "empty" / "readme.txt", "nothing to score\n");
  }
};

}  // namespace hawkeye::test
