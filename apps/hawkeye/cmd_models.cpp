// hawkeye models [FOLDER ...] [--json]: the models a name finds (the model search path: shipped models and
// $HAWKEYE_MODEL_PATH) and the model directories under the folders given (e.g. runs/: each run's final/), with
// architecture, parameters, weight size and the test SRCC recorded in the directory's eval/*/report.json.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/model_dir.h"

namespace hawkeye::cli {

namespace {

bool is_model_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "config.json", ec) && fs::is_regular_file(dir / "model.safetensors", ec);
}

// Model directories at most `depth` levels below `root` (a run's checkpoints/ are skipped: its final/ is the model).
void find_model_dirs(const fs::path& root, int depth, std::vector<fs::path>& out) {
  std::error_code ec;
  if (is_model_dir(root)) {
    out.push_back(root);
    return;
  }
  if (depth == 0 || !fs::is_directory(root, ec)) return;
  std::vector<fs::path> children;
  for (const auto& e : fs::directory_iterator(root, fs::directory_options::skip_permission_denied, ec)) {
    if (e.is_directory(ec) && !e.is_symlink(ec) && e.path().filename() != "checkpoints") children.push_back(e.path());
  }
  std::sort(children.begin(), children.end());
  for (const auto& c : children) find_model_dirs(c, depth - 1, out);
}

// {eval folder name: SRCC} from DIR/eval/*/report.json (hawkeye eval's reports, as scripts/train-default.sh keeps them).
ordered_json recorded_srcc(const fs::path& dir) {
  ordered_json rec = ordered_json::object();
  std::error_code ec;
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(dir / "eval", ec))
    if (fs::is_regular_file(e.path() / "report.json", ec)) reports.push_back(e.path());
  std::sort(reports.begin(), reports.end());
  for (const auto& r : reports) {
    try {
      const auto j = nlohmann::json::parse(read_file(r / "report.json", 64u << 20));
      if (j.contains("srcc") && j["srcc"].is_number()) rec[r.filename().string()] = j["srcc"];
    } catch (const std::exception&) {
      // an unreadable report is not a recorded value
    }
  }
  return rec;
}

ordered_json describe(const std::string& name, const fs::path& dir, const std::string& source) {
  ordered_json j;
  j["name"] = name;
  j["path"] = dir.string();
  j["source"] = source;
  try {
    const auto d = model::describe_model_dir(dir);
    j["architecture"] = d.value("architecture", "");
    j["model_id"] = d.value("model_id", "");
    j["parameters"] = d.value("parameters", 0);
    j["weight_mb"] = d.value("weight_bytes", 0.0) / 1e6;
    j["recorded_srcc"] = recorded_srcc(dir);
  } catch (const Error& e) {
    j["error"] = e.what();  // listed, not fatal: one broken folder does not hide the others
  }
  return j;
}

}  // namespace

void add_models_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::vector<std::string> folders;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("models", "List the models a name finds and the model directories under folders");
  sub->fallthrough();
  sub->add_option("folders", opts->folders, "Folders to search for model directories too (up to 3 levels deep, e.g. runs/)");
  sub->add_flag("--json", opts->json, "One JSON object per model");
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
    std::vector<ordered_json> rows;
    std::set<fs::path> seen;
    for (const auto& [name, dir] : model::list_models()) {
      std::error_code ec;
      seen.insert(fs::weakly_canonical(dir, ec));
      rows.push_back(describe(name, dir, "search path"));
    }
    for (const auto& folder : opts->folders) {
      std::error_code ec;
      if (!fs::is_directory(folder, ec)) throw Error(ErrorCode::not_found, folder + ": no such folder");
      std::vector<fs::path> dirs;
      find_model_dirs(folder, 3, dirs);
      for (const auto& d : dirs) {
        if (!seen.insert(fs::weakly_canonical(d, ec)).second) continue;
        const fs::path rel = d.lexically_relative(folder);
        rows.push_back(describe(rel.empty() || rel == "." ? d.filename().string() : rel.string(), d, folder));
      }
    }
    if (opts->json) {
      for (const auto& r : rows) std::cout << r.dump() << "\n";
    } else {
      // Column widths from the longest name and path, so that long run names do not shift the columns.
      int wn = 4, wa = 12, wp = 4;
      for (const auto& r : rows) {
        wn = std::max(wn, static_cast<int>(r["name"].get<std::string>().size()));
        wp = std::max(wp, static_cast<int>(r["path"].get<std::string>().size()));
        if (r.contains("architecture")) wa = std::max(wa, static_cast<int>(r["architecture"].get<std::string>().size()));
      }
      std::printf("%-*s  %-*s  %10s  %9s  %-*s  %s\n", wn, "name", wa, "architecture", "parameters", "weights", wp, "path",
                  "recorded SRCC (eval/)");
      for (const auto& r : rows) {
        if (r.contains("error")) {
          std::printf("%-*s  error: %s\n", wn, r["name"].get<std::string>().c_str(), r["error"].get<std::string>().c_str());
          continue;
        }
        std::string rec;
        for (auto it = r["recorded_srcc"].begin(); it != r["recorded_srcc"].end(); ++it) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "%s%s %.4f", rec.empty() ? "" : ", ", it.key().c_str(), it->get<double>());
          rec += buf;
        }
        char weights[32];
        std::snprintf(weights, sizeof weights, "%.1f MB", r["weight_mb"].get<double>());
        std::printf("%-*s  %-*s  %10lld  %9s  %-*s  %s\n", wn, r["name"].get<std::string>().c_str(), wa,
                    r["architecture"].get<std::string>().c_str(), r["parameters"].get<long long>(), weights, wp,
                    r["path"].get<std::string>().c_str(), rec.empty() ? "-" : rec.c_str());
      }
      if (rows.empty()) std::printf("(no models found)\n");
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
