// One error type for the whole toolkit: a code (what kind of failure) and a message a user can act on.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace hawkeye {

enum class ErrorCode {
  invalid_argument = 1,  // a flag, option or config value is wrong
  not_found,             // a file, directory, model or key does not exist
  io,                    // reading or writing failed (permissions, disk full, ...)
  corrupt_data,          // a file exists but its content is broken (truncated image, bad header, ...)
  unsupported,           // a valid input of a kind hawkeye does not handle
  limit_exceeded,        // an input is larger than the configured limits allow
  parse,                 // text that must follow a grammar does not (manifest line, model answer, JSON)
  model,                 // a model directory or weight file is inconsistent
  numerical,             // a computation produced non-finite values or cannot converge
  distributed,           // a peer process failed, hung or disagreed
  interrupted,           // the user asked to stop (Ctrl-C)
  in_use,                // a run directory or output file is held by another hawkeye process
  internal,              // a bug: an invariant of hawkeye itself does not hold
};

std::string_view error_code_name(ErrorCode code);

// Exit status of the CLI for an error of this code (documented in docs/cli.md).
int exit_status(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// Throws Error(code, message) when cond is false. Keeps call sites to one line.
inline void require(bool cond, ErrorCode code, const std::string& message) {
  if (!cond) throw Error(code, message);
}

}  // namespace hawkeye

namespace hawkeye {
// CLI exit statuses that are not tied to one error (documented in docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;             // unexpected failure outside hawkeye's error type
inline constexpr int kExitSomeInputsFailed = 12;   // a batch command finished, but some items failed
inline constexpr int kExitNothingParsed = 13;      // the model answered, but no answer could be parsed
}  // namespace hawkeye
