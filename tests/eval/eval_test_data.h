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

namespace hawkeye::test {

// A JSON Lines manifest of `n` flat grey images (levels spread over 0..255) in dir/images, opinion scores on
// [0, 100] that follow the level with seeded noise, and three distortion types in turn (type_name). With
// `missing`, one more row names a file that does not exist. Returns the manifest path.
inline fs::path write_grey_manifest(const fs::path& dir, int n, bool missing = false) {
  fs::create_directories(dir / "images");
  std::string text = R"({"hawkeye_manifest":1,"form":"nr","score_field":"mos","score_range":[0,100],"higher_better":true})" "\n";
  const char* types[] = {"blur", "noise", "jpeg"};
  for (int i = 0; i < n; ++i) {
    const int level = 5 + (245 * i) / std::max(1, n - 1);
    const std::string name = "img" + std::to_string(100 + i) + ".png";
    save_image(dir / "images" / name, grey_image(40, 32, level, 50 + i));
    const double mos = std::clamp(level / 2.55 + ((i * 37) % 11) - 5.0, 0.0, 100.0);
    nlohmann::ordered_json row = {{"image", "images/" + name}, {"mos", mos}, {"type_name", types[i % 3]}};
    text += row.dump() + "\n";
  }
  if (missing) text += R"({"image":"images/gone.png","mos":50,"type_name":"blur"})" "\n";
  write_file_atomic(dir / "test.jsonl", text);
  return dir / "test.jsonl";
}

// Width and height from a PNG's IHDR chunk; {0, 0} when the bytes are not a PNG.
inline std::pair<int, int> png_size(const std::string& bytes) {
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0) return {0, 0};
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(bytes[at]) << 24) | (static_cast<unsigned char>(bytes[at + 1]) << 16) |
           (static_cast<unsigned char>(bytes[at + 2]) << 8) | static_cast<unsigned char>(bytes[at + 3]);
  };
  return {static_cast<int>(be32(16)), static_cast<int>(be32(20))};
}

}  // namespace hawkeye::test
