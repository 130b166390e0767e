// `hawkeye sft` / `hawkeye train` with configs that cannot run: the message names the key, the value and what is
// expected, the exit status is 2, and nothing is written (issue 18 items 11-12).
#include <gtest/gtest.h>

#include "hawkeye/core/fs.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

// Runs the CLI in `dir` (so the default run.dir, runs/sft, would land there).
test::CommandResult hawkeye_in(const fs::path& dir, const std::string& args) {
  return test::run_command("cd '" + dir.string() + "' && '" + HAWKEYE_CLI + "' " + args + " 2>&1");
}

}  // namespace

TEST(CliTrainConfig, BadConfigsAreRefusedByNameAndWriteNothing) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "empty.toml", "");
  struct Case {
    const char* args;
    const char* expected;
  };
  const Case cases[] = {
      {"sft --config empty.toml", "data.train: required"},
      {"train --config empty.toml data.train=t.jsonl model.init=scratch", "model.architecture: required with model.init = 'scratch'"},
      {"sft --config empty.toml data.train=t.jsonl model.init=m sft.text_weight=-1", "sft.text_weight = -1: expected a number >= 0"},
      {"sft --config empty.toml data.train=t.jsonl model.init=m train.lrr=1e-3", "train.lrr: unknown key; did you mean train.lr?"},
      {"train --config empty.toml data.train=t.jsonl model.init=m loss.uado=maybe", "loss.uado = 'maybe': expected a boolean"},
      {"train --config empty.toml data.train=t.jsonl model.init=m rollout.k=1", "rollout.k = 1: expected an integer >= 2"},
      {"train --config empty.toml data.train=t.jsonl model.init=m train.lr=", "train.lr = '': expected a number > 0"},
      // the launcher of --nproc refuses it once, before starting workers
      {"train --nproc 2 --config empty.toml data.train=t.jsonl model.init=m rollout.max_new_tokens=0",
       "rollout.max_new_tokens = 0: expected an integer >= 1"},
  };
  for (const auto& c : cases) {
    const auto r = hawkeye_in(dir.path(), c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find(": no such file"), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("both 0"), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("rank "), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(dir.path() / "runs")) << c.args;
  }
}
