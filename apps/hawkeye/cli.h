// The hawkeye command line: shared options, the command table, and helpers for commands.
#pragma once
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hawkeye/data/manifest.h"

namespace hawkeye::cli {

struct GlobalOptions {
  int threads = 0;            // 0 = all available cores
  // --threads absent: score, eval and serve follow the machine's load (up to all cores), training is fixed;
  // --threads N: fixed everywhere; --threads auto: follow the load (score, eval, serve; training refuses it).
  enum class ThreadMode { unset, fixed, follow_load } thread_mode = ThreadMode::unset;
  bool follow_load() const { return thread_mode != ThreadMode::fixed; }
  std::uint64_t seed = 0;
  std::string log_level = "info";
  bool quiet = false;
};

struct Context {
  GlobalOptions global;
  int exit_code = 0;
  // `hawkeye tokenize … -- ARGS`: the arguments after "--", every one a text (CLI11 ends a subcommand without
  // positionals at "--"; run() takes them off before parsing).
  std::vector<std::string> texts_after_double_dash;
  // Applies --threads/--log-level; called by every command before it works (cheap, idempotent).
  void prepare(bool torch = true) const;
};

// Each subcommand lives in its own cmd_<name>.cpp and adds itself to the app through one function.
using CommandAdder = void (*)(CLI::App& app, Context& ctx);
struct CommandEntry {
  const char* name;
  CommandAdder add;
};
const std::vector<CommandEntry>& command_table();

// Refuses an output file that would destroy an input: one of `inputs` (the same file, however named), or an
// existing image (an output never replaces a picture unless asked), unless `force`; and a folder.
// Errors: invalid_argument, naming the file and --force.
void check_output_file(const std::filesystem::path& out, const std::vector<std::filesystem::path>& inputs, bool force);

// How a command over many inputs (score, eval, metric) ends: the exit status of docs/cli.md and one line on
// stderr saying why it is not 0. In this order: interrupted -> 130 ("interrupted; <resume_hint>"); the model
// answered inputs but none parsably -> 13; some inputs failed -> 12 ("N of M images failed: <breakdown> (see
// <details>)"); else 0.
struct RunEnding {
  bool interrupted = false;
  std::string resume_hint;   // after "interrupted; "
  std::size_t inputs = 0;    // images the run was given
  std::size_t answered = 0;  // of those, answered by a model (0 for metric: no model)
  std::size_t parsed = 0;    // of the answered, with a parsable score
  std::size_t failed = 0;    // inputs that failed (not loaded, no parsable answer, a metric error)
  std::string breakdown;     // optional: what the failures were, e.g. "2 not loaded, 1 without a parsable answer"
  std::string details;       // where each input's outcome is, e.g. "\"error\" in predictions.jsonl"
};
void end_run(Context& ctx, const RunEnding& ending);

// `--scale LO:HI:higher|lower` of eval and metric ("0:100" = higher is better). Errors: invalid_argument naming the
// expected form.
ScoreScale parse_scale_option(const std::string& text);

// The manifest of `--data FILE` with eval's and metric's `--scale` and `--root` ("" = not given). Errors: those of
// read_manifest; not_found for a missing --root folder; invalid_argument for a manifest without rows.
Manifest read_manifest_option(const std::string& data, const std::string& scale, const std::string& root);

// While one lives, the first Ctrl-C or SIGTERM (what schedulers send before SIGKILL) sets stop_flag(): the
// command finishes what it is doing and stops cleanly (eval writes its partial report, train a checkpoint,
// serve answers the requests it holds). A second signal ends the process at once with status 130. Constructing
// one clears the flag; destroying it restores the previous handlers. One process-wide flag: one at a time.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  void (*previous_int_)(int) = SIG_DFL;
  void (*previous_term_)(int) = SIG_DFL;
};
std::atomic<bool>& stop_flag();

// Runs the CLI; returns the exit status (documented in docs/cli.md). Never throws.
int run(int argc, const char* const* argv);

}  // namespace hawkeye::cli
