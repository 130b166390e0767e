#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/version.h"
#include "hawkeye/image/io.h"
#include "hawkeye/model/runtime.h"

namespace hawkeye::cli {

namespace {
std::atomic<bool> g_stop_flag{false};
extern "C" void on_stop_signal(int) {
  if (g_stop_flag.exchange(true)) std::_Exit(130);
}
}  // namespace

std::atomic<bool>& stop_flag() { return g_stop_flag; }

StopOnSignal::StopOnSignal() {
  g_stop_flag = false;
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopOnSignal::~StopOnSignal() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

void Context::prepare(bool torch) const {
  log_setup(global.log_level, global.quiet);
  if (torch) {
    apply_threads(global.threads);
    check_blas(true);
  } else {
    apply_base_threads(global.threads);
  }
}

void end_run(Context& ctx, const RunEnding& e) {
  if (e.interrupted) {
    std::cerr << "hawkeye: interrupted; " << e.resume_hint << "\n";
    ctx.exit_code = exit_status(ErrorCode::interrupted);
  } else if (e.answered > 0 && e.parsed == 0) {
    std::cerr << "hawkeye: no answer of the model could be parsed (see " << e.details << ")\n";
    ctx.exit_code = kExitNothingParsed;
  } else if (e.failed > 0) {
    std::cerr << "hawkeye: " << e.failed << " of " << count_of(e.inputs, "image") << " failed"
              << (e.breakdown.empty() ? "" : ": " + e.breakdown) << " (see " << e.details << ")\n";
    ctx.exit_code = kExitSomeInputsFailed;
  } else {
    ctx.exit_code = kExitOk;
  }
}

void check_output_file(const std::filesystem::path& out, const std::vector<std::filesystem::path>& inputs, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw Error(ErrorCode::invalid_argument, out.string() + ": is a folder; --out needs a file name");
  if (!fs::exists(out, ec) || force) return;
  for (const auto& in : inputs) {
    if (fs::equivalent(out, in, ec)) {
      throw Error(ErrorCode::invalid_argument, out.string() + ": the output is also an input (" + in.string() +
                                                   "); writing it would destroy that input. Choose another file, or add --force");
    }
  }
  if (is_image_file(out)) {
    throw Error(ErrorCode::invalid_argument, out.string() + ": exists and is an image; the output would replace it. "
                                             "Choose another file, or add --force");
  }
}

// "0:100:higher", "1:5:lower" (also "0:100" = higher is better). Errors: invalid_argument naming the form.
ScoreScale parse_scale_option(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCode::invalid_argument, "--scale " + text + ": " + why + " (expected LO:HI:higher or LO:HI:lower, e.g. 0:100:higher)");
  };
  const std::vector<std::string> parts = split_on(text, ':');
  if (parts.size() != 2 && parts.size() != 3) throw bad("two or three fields");
  ScoreScale s;
  for (int i = 0; i < 2; ++i) {
    char* end = nullptr;
    const double v = std::strtod(parts[i].c_str(), &end);
    if (parts[i].empty() || *end != '\0' || !std::isfinite(v)) throw bad("'" + parts[i] + "' is not a number");
    (i == 0 ? s.lo : s.hi) = v;
  }
  if (!(s.lo < s.hi)) throw bad("LO must be below HI");
  if (parts.size() == 3) {
    if (parts[2] == "higher") s.higher_better = true;
    else if (parts[2] == "lower") s.higher_better = false;
    else throw bad("the direction is 'higher' or 'lower', not '" + parts[2] + "'");
  }
  return s;
}

Manifest read_manifest_option(const std::string& data, const std::string& scale, const std::string& root) {
  ManifestReadOptions mo;
  if (!scale.empty()) mo.scale = parse_scale_option(scale);
  if (!root.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) throw Error(ErrorCode::not_found, "--root " + root + ": no such folder");
    mo.root = root;
  }
  Manifest manifest = read_manifest(data, mo);
  if (manifest.rows.empty()) throw Error(ErrorCode::invalid_argument, data + ": the manifest has no rows");
  return manifest;
}

static void print_version(const GlobalOptions& g) {
  const int threads = apply_threads(g.threads);
  const BlasCheck blas = check_blas(false);
  std::cout << "hawkeye " << version() << " (git " << git_revision() << ")\n"
            << "libtorch " << torch_version() << "\n"
            << "BLAS " << (blas.library.empty() ? "unknown" : blas.library) << " (" << static_cast<int>(blas.gflops)
            << " GFLOP/s, 512x512 float32 matmul)\n"
            << "threads " << threads << " (of " << available_cores() << " available cores)\n";
  // What libgomp read when it was loaded (the hawkeye executable sets GOMP_SPINCOUNT unless the user chose;
  // include/hawkeye/core/openmp_wait.h).
  std::string wait;
  if (const char* policy = std::getenv("OMP_WAIT_POLICY")) wait += std::string("OMP_WAIT_POLICY=") + policy;
  if (const char* spin = std::getenv("GOMP_SPINCOUNT")) wait += (wait.empty() ? "" : " ") + std::string("GOMP_SPINCOUNT=") + spin;
  std::cout << "OpenMP wait " << (wait.empty() ? "libgomp's default (spins 300,000 iterations)" : wait) << "\n";
}

namespace {

// After an ExtrasError: "unknown command 'scroe'; did you mean 'score'?" or "score: unknown option --sampels;
// did you mean --samples?", or "" when no name is near (CLI11's own message is printed then).
std::string did_you_mean(CLI::App& app) {
  std::vector<std::string> left = app.remaining();
  const auto subs = app.get_subcommands();
  CLI::App* sub = subs.empty() ? nullptr : subs.front();
  if (sub) {
    const auto more = sub->remaining();
    left.insert(left.end(), more.begin(), more.end());
  }
  if (!sub) {
    std::vector<std::string> commands;
    for (const auto* c : app.get_subcommands({})) commands.push_back(c->get_name());
    for (const auto& a : left) {
      if (a.empty() || a[0] == '-') continue;
      const std::string near = closest_name(a, commands);
      if (!near.empty()) return "unknown command '" + a + "'; did you mean '" + near + "'? (hawkeye --help lists the commands)";
      return "unknown command '" + a + "' (hawkeye --help lists the commands)";
    }
    return "";
  }
  std::vector<std::string> options;
  for (const CLI::App* owner : {static_cast<const CLI::App*>(sub), static_cast<const CLI::App*>(&app)}) {
    for (const CLI::Option* o : owner->get_options()) {
      for (const auto& l : o->get_lnames()) options.push_back("--" + l);
    }
  }
  for (const auto& a : left) {
    if (a.size() < 3 || a.rfind("--", 0) != 0) continue;
    const std::string flag = a.substr(0, a.find('='));
    const std::string near = closest_name(flag, options);
    return sub->get_name() + ": unknown option " + flag + (near.empty() ? "" : "; did you mean " + near + "?") + " (hawkeye " +
           sub->get_name() + " --help lists them)";
  }
  return "";
}

}  // namespace

int run(int argc, const char* const* argv) {
  Context ctx;
  CLI::App app{"hawkeye: reasoning-style image quality assessment (Q-Hawkeye)", "hawkeye"};
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  bool show_version = false;
  app.add_flag("--version", show_version, "Print version, git revision, libtorch version, BLAS and threads");
  app.add_option_function<std::string>(
         "--threads",
         [&ctx](const std::string& v) {
           if (ascii_lower(v) == "auto") {
             ctx.global.threads = 0;
             ctx.global.thread_mode = GlobalOptions::ThreadMode::follow_load;
           } else {
             ctx.global.threads = std::stoi(v);
             ctx.global.thread_mode = GlobalOptions::ThreadMode::fixed;
           }
         },
         "Threads for torch, BLAS and OpenCV: N (0 = all cores) or auto. Default: score, eval and serve follow "
         "the machine's load (fewer threads while other processes take cores), training keeps the cores left free "
         "at its start (recorded as run.threads; a resume keeps it), except a GRPO run of hawkeye-tiny with its vision "
         "tower frozen, whose values do not depend on the count: it follows the load from step to step")
      ->type_name("N|auto")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (ascii_lower(v) == "auto") return {};
            if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
                std::stoi(v) > 4096) {
              return "--threads: expected a number 0 .. 4096 (0 = all cores) or auto, got '" + v + "'";
            }
            return {};
          },
          ""));
  app.add_option("--seed", ctx.global.seed, "Run seed (every item derives its own seed from it)");
  app.add_option("--log-level", ctx.global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "err", "critical", "off"}));
  app.add_flag("-q,--quiet", ctx.global.quiet, "Only print errors on stderr");
  bool check_args_flag = false;  // acted on before parsing (see run); declared so that CLI11 accepts it anywhere
  app.add_flag("--check-args", check_args_flag, "Only check the command line (command, options, values) and exit");
  // Global options may also follow the subcommand (`hawkeye score --threads 2 ...`): subcommands inherit
  // fallthrough when it is set before they are created.
  app.fallthrough();
  for (const auto& entry : command_table()) entry.add(app, ctx);
  app.require_subcommand(0, 1);

  try {
    // "--" ends the options as in every POSIX tool. Commands with positional arguments get that from CLI11;
    // tokenize takes its texts raw (a declared positional would split "[a,b]"), so what follows "--" is kept
    // aside for it here.
    std::vector<std::string> args(argv + 1, argv + argc);
    const auto dash = std::find(args.begin(), args.end(), "--");
    if (dash != args.end() && std::find(args.begin(), dash, "tokenize") != dash) {
      ctx.texts_after_double_dash.assign(dash + 1, args.end());
      args.erase(dash, args.end());
    }
    // --check-args: parse the command line (command, options, their types and ranges, required ones) and stop
    // before any work: every command's callback becomes a no-op. The docs test runs every command the README
    // and docs show this way, so that they cannot rot.
    const auto options_end = std::find(args.begin(), args.end(), "--");  // a file named --check-args after -- is a file
    const bool check_args = std::find(args.begin(), options_end, "--check-args") != options_end;
    if (check_args) {
      std::function<void(CLI::App*)> mute = [&](CLI::App* a) {
        for (CLI::App* sub : a->get_subcommands({})) {
          sub->callback([] {});
          mute(sub);
        }
      };
      mute(&app);
    }
    std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
    app.parse(args);
    if (check_args) {
      const auto subs = app.get_subcommands();
      std::cout << "hawkeye: the command line parses" << (subs.empty() ? std::string() : " (" + subs.front()->get_name() + ")") << "\n";
      return kExitOk;
    }
    if (show_version) {
      print_version(ctx.global);
      return kExitOk;
    }
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 2;
    }
    // Every command's standard output: a write that failed (a full disk, a closed pipe) is an error that says
    // why, not a silent exit 0 (score and eval check their own streams too).
    errno = 0;
    if (!std::cout.flush()) {
      const int e = errno;
      std::cerr << "hawkeye: error: standard output: write failed: " << (e != 0 ? std::strerror(e) : "stream error") << "\n";
      return exit_status(ErrorCode::io);
    }
    return ctx.exit_code;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // An argument nothing took: a misspelt command or option gets a "did you mean".
    const std::string hint = did_you_mean(app);
    if (hint.empty()) {
      app.exit(e);
    } else {
      std::cerr << "hawkeye: error: " << hint << "\n";
    }
    return 2;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const Error& e) {
    std::cerr << "hawkeye: error: " << e.what() << "\n";
    return exit_status(e.code());
  } catch (const std::bad_alloc&) {
    std::cerr << "hawkeye: error: out of memory\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "hawkeye: error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace hawkeye::cli
