// hawkeye score IMG|DIR|GLOB... [--model NAME|DIR] [--samples K] [--format jsonl|csv|table] [--out FILE] ...
// Quality scores with reasoning for image files, one record per image, streamed as each batch completes.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/image/inputs.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

namespace hawkeye::cli {

namespace {

struct ScoreCommand {
  std::vector<std::string> inputs;
  std::string files_from;  // --files-from FILE|-: more inputs, one per line
  std::string model = "hawkeye-tiny";
  std::int64_t samples = 0;
  std::string format;  // "" = jsonl, or table on a terminal (csv when --out ends in .csv)
  bool no_reasoning = false;
  bool completion = false;
  std::int64_t batch = 16;
  std::string out;
  bool force = false;
  std::int64_t max_new_tokens = 0;  // 0 = the model's default (hawkeye.json)
  double temperature = 0;           // 0 = the model's default
  std::string readout = "answer";
  std::string device = "cpu";
  std::uint64_t max_pixels = 0;     // 0 = the default image limits
};

const std::vector<std::string> kCsvColumns = {"path",   "score",   "range",  "direction", "status", "samples", "mean",
                                              "std",    "parsed",  "tokens", "reasoning", "completion", "error"};

// The terminal's width; else $COLUMNS (as shells export it); else 80, so that a table piped to a file or a
// pager fits a classic terminal.
int terminal_columns() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    const int c = std::atoi(env);
    if (c >= 40 && c <= 1000) return c;
  }
  return 80;
}

// Cuts text to `width` display columns (UTF-8 aware, one column per code point), with "…" when cut;
// line breaks become spaces.
std::string fit(std::string text, std::size_t width, bool keep_end = false, bool pad = true) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  std::vector<std::size_t> starts;  // byte offset of each code point
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() <= width) return pad ? text + std::string(width - starts.size(), ' ') : text;
  if (width == 0) return "";
  if (keep_end) return "…" + text.substr(starts[starts.size() - (width - 1)]);
  return text.substr(0, starts[width - 1]) + "…";
}

std::string number(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A readable aligned table for a terminal: score (± std over the samples), status, path, reasoning.
class TableWriter {
 public:
  TableWriter(std::ostream& out, std::size_t path_width, bool samples, bool reasoning)
      : out_(out), path_width_(path_width), samples_(samples), reasoning_(reasoning) {
    // Paths longer than the row allows keep their end ("…/imgs/sub/b.png").
    const int fixed = 7 + (samples_ ? 8 : 0) + 18;
    path_width_ = std::min<std::size_t>(path_width_, static_cast<std::size_t>(std::max(12, terminal_columns() - fixed)));
    const std::size_t used = fixed + path_width_ + 2;
    reason_width_ = reasoning_ && terminal_columns() > static_cast<int>(used + 10) ? terminal_columns() - used : 0;
  }
  void header(const std::string& title) {
    out_ << fit(title, static_cast<std::size_t>(terminal_columns()), false, false) << "\n";
    out_ << fit("score", 7) << (samples_ ? fit("± std", 8) : "") << fit("status", 18)
         << (reason_width_ ? fit("path", path_width_ + 2) + "reasoning" : "path") << "\n";
    out_.flush();
  }
  void row(const eval::ScoredImage& s) {
    std::string note = s.load_failed() ? s.error : s.result.reasoning;
    if (!s.load_failed() && !s.scored()) note = s.result.completion;
    out_ << fit(number(s.scored() ? s.result.score : NAN), 7);
    if (samples_) out_ << fit(std::isfinite(s.result.std) ? "±" + number(s.result.std) : "", 8);
    out_ << fit(std::string(score_status_name(s.status)), 18) << fit(s.path.string(), path_width_, true, reason_width_ > 0);
    if (reason_width_) out_ << "  " << fit(note, reason_width_, false, false);
    out_ << "\n";
    out_.flush();
  }

 private:
  std::ostream& out_;
  std::size_t path_width_;
  bool samples_, reasoning_;
  std::size_t reason_width_ = 0;
};

std::string resolve_format(const ScoreCommand& o) {
  if (!o.format.empty()) return o.format;
  if (!o.out.empty()) {
    const auto ext = fs::path(o.out).extension().string();
    return ext == ".csv" || ext == ".CSV" ? "csv" : "jsonl";
  }
  return isatty(STDOUT_FILENO) == 1 ? "table" : "jsonl";
}

void run_score(const ScoreCommand& o, Context& ctx) {
  ctx.prepare(true);
  const std::string format = resolve_format(o);
  const model::Readout readout = model::readout_from_name(o.readout);
  if (readout != model::Readout::answer && o.samples > 0) {
    throw Error(ErrorCode::invalid_argument, "--readout " + o.readout + " reads a greedy answer; it cannot be combined with --samples");
  }
  const auto paths = expand_image_inputs(arguments_and_list(o.inputs, o.files_from));
  const torch::Device device = model::parse_device(o.device);

  // --out: never over an input or an image (unless --force), one writer at a time, and the file appears
  // only when complete (the records stream into a temporary beside it).
  std::optional<PathLock> lock;
  std::optional<AtomicFile> file;
  if (!o.out.empty()) {
    check_output_file(o.out, paths, o.force);
    lock.emplace(lock_output_file(o.out, o.out));
    const fs::path out_path(o.out);
    remove_stale_temporaries(out_path.parent_path().empty() ? fs::path(".") : out_path.parent_path(), out_path.filename().string());
    file.emplace(out_path);
  }
  std::ostream& out = file ? file->stream() : std::cout;

  // Unless --threads N fixed it, the thread count follows the machine's load from batch to batch; the first
  // look covers the model's loading.
  std::optional<ThreadGovernor> governor;
  if (ctx.global.follow_load() && device.is_cpu()) governor.emplace(ctx.global.threads);
  const auto t_load = std::chrono::steady_clock::now();
  auto m = model::IqaModel::load(o.model, device);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  spdlog::info("model {} loaded from {} in {:.2f} s", m.id(), m.dir().dir.string(), load_seconds);

  eval::BatchScoringOptions bo;
  bo.score = model::default_score_options(m, o.samples, ctx.global.seed);
  if (o.max_new_tokens > 0) bo.score.sampling.max_new_tokens = o.max_new_tokens;
  if (o.temperature > 0) bo.score.sampling.temperature = o.temperature;
  bo.score.readout = readout;
  model::check_score_options(m, bo.score);  // before the run record and any output
  bo.batch = o.batch;
  bo.loader_threads = std::clamp(resolve_thread_count(ctx.global.threads) / 2, 1, 4);
  if (o.max_pixels > 0) bo.limits.max_pixels = o.max_pixels;
  bo.threads = governor ? &*governor : nullptr;

  // The run record: once per run, before the images.
  ordered_json run;
  run["hawkeye_score"] = 1;
  const ordered_json mj = eval::model_json(m);
  run["model"] = mj["id"];
  run["model_path"] = mj["path"];
  run["architecture"] = mj["architecture"];
  run["range"] = mj["range"];
  run["direction"] = mj["direction"];
  run["sampling"] = eval::sampling_json(bo.score);
  run["device"] = model::device_name(device);
  run["images"] = paths.size();
  run["batch"] = o.batch;
  const ordered_json versions = eval::versions_json();
  for (auto it = versions.begin(); it != versions.end(); ++it) run[it.key()] = it.value();

  std::optional<JsonlWriter> jsonl;
  std::optional<CsvWriter> csv;
  std::optional<TableWriter> table;
  if (format == "csv") {
    // With --readout expected the greedy answer's own number gets a column after the score.
    auto columns = kCsvColumns;
    if (readout != model::Readout::answer) columns.insert(columns.begin() + 2, "answer");
    csv.emplace(out, columns);
    // CSV has no place for it: the run record goes beside the file (or to stderr for stdout).
    if (!o.out.empty()) write_file_atomic(o.out + ".run.json", run.dump(2) + "\n");
    else spdlog::info("run: {}", run.dump());
  } else if (format == "table") {
    std::size_t width = 4;
    for (const auto& p : paths) width = std::max(width, p.string().size());
    table.emplace(out, std::min<std::size_t>(width, 48), o.samples > 0, !o.no_reasoning);
    std::string title = "model " + m.id() + " (" + mj["architecture"].get<std::string>() + ") · " +
                        (o.samples > 0 ? std::to_string(o.samples) + " samples at T=" + number(bo.score.sampling.temperature, 2)
                                       : std::string("greedy")) +
                        " · scores " + number(m.contract().score_min, 0) + "–" + number(m.contract().score_max, 0) + ", " +
                        (m.contract().higher_is_better ? "higher is better" : "lower is better");
    table->header(title);
  } else {
    jsonl.emplace(out);
    jsonl->write(sanitize_json(run));
  }

  // On a terminal the table's rows are the progress; elsewhere a bar on stderr (when stderr is a terminal).
  Progress progress("score", paths.size(), !ctx.global.quiet && !table);
  eval::RecordFields fields;
  fields.reasoning = !o.no_reasoning;
  fields.completion = o.completion;
  fields.answer = readout != model::Readout::answer;
  const auto summary = eval::score_files(m, paths, {}, bo, [&](const eval::ScoredImage& s) {
    if (table) table->row(s);
    else if (csv) csv->write(sanitize_json(eval::image_record(s, m.contract(), o.samples, fields)));
    else jsonl->write(sanitize_json(eval::image_record(s, m.contract(), o.samples, fields)));
    progress.advance();
  });
  progress.finish();
  out.flush();
  if (!out) {
    const int e = errno;  // what the failed write(2) left, e.g. "No space left on device"
    throw Error(ErrorCode::io, (o.out.empty() ? std::string("standard output") : o.out) + ": write failed: " +
                                   (e != 0 ? std::strerror(e) : "stream error"));
  }
  if (file) file->commit();

  spdlog::info("scored {} in {:.2f} s ({:.2f} images/s, {:.1f} tokens/image): {} ok, {} failed to load, {} without a parsable answer",
               count_of(summary.images, "image"), summary.seconds, summary.images_per_second(),
               summary.images > summary.load_failures
                   ? static_cast<double>(summary.generated_tokens) / (summary.images - summary.load_failures)
                   : 0.0,
               summary.scored, summary.load_failures, summary.parse_failures);
  const auto& t = summary.model;
  spdlog::info("time: {:.2f} s waiting for images to load, {:.2f} s preprocessing, {:.2f} s vision, {:.2f} s prefill, "
               "{:.2f} s in {} decoding steps, {:.2f} s sampling, {:.2f} s writing records, model load {:.2f} s",
               summary.load_wait_seconds, t.preprocess_seconds, t.encode_seconds, t.prefill_seconds, t.decode_seconds,
               t.steps, t.sample_seconds, summary.output_seconds, load_seconds);
  if (governor && governor->changes() > 0) {
    spdlog::info("threads followed the machine's load: {} to {} of {} ({} changes)", summary.fewest_threads,
                 summary.most_threads, governor->max_threads(), governor->changes());
  }
  RunEnding ending;
  ending.inputs = summary.images;
  ending.answered = summary.images - summary.load_failures;
  ending.parsed = summary.scored;
  ending.failed = summary.load_failures + summary.parse_failures;
  ending.breakdown = std::to_string(summary.load_failures) + " not loaded, " + std::to_string(summary.parse_failures) +
                     " without a parsable answer";
  ending.details = "their \"status\"";
  end_run(ctx, ending);
}

}  // namespace

void add_score_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ScoreCommand>();
  auto* sub = app.add_subcommand("score", "Score image quality (1-5) with reasoning; folders are searched recursively");
  sub->fallthrough();
  sub->add_option("inputs", o->inputs, "Images, folders (recursive) or patterns such as 'photos/*.jpg'");
  sub->add_option("--files-from", o->files_from,
                  "Also the images listed in FILE, one path (or folder, or pattern) per line; - reads standard input");
  sub->add_option("--model,-m", o->model, "A shipped model's name or a model directory (default: hawkeye-tiny)");
  sub->add_option("--samples,-k", o->samples,
                  "K > 0: K sampled answers per image (their mean, std and all K scores); 0: greedy (default)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--format", o->format,
                  "jsonl (default), csv, or table (the default when standard output is a terminal)")
      ->check(CLI::IsMember({"jsonl", "csv", "table"}));
  sub->add_flag("--no-reasoning", o->no_reasoning, "Leave the reasoning text out of the records");
  sub->add_flag("--completion", o->completion, "Always include the model's whole answer (it is included when it did not parse)");
  sub->add_option("--batch", o->batch, "Images per model batch (default 16)")->check(CLI::Range(1, 4096));
  sub->add_option("--out,-o", o->out, "Write the records to FILE instead of standard output (.csv selects CSV)");
  sub->add_flag("--force", o->force, "Let --out replace an input or an existing image");
  sub->add_option("--max-new-tokens", o->max_new_tokens, "Longest answer in tokens (default: the model's hawkeye.json)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--temperature", o->temperature, "Sampling temperature with --samples (default: the model's)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--readout", o->readout,
                  "Greedy score: answer (the number the answer writes, default), expected (its expected value under "
                  "the model's digit probabilities, after the greedy reasoning) or head (the vision tower's auxiliary-head score, "
                  "models with one; the reasoning is still written; the record then also has \"answer\")")
      ->check(CLI::IsMember({"answer", "expected", "head"}));
  sub->add_option("--device", o->device, "cpu (default), cuda or cuda:N (needs a CUDA build)");
  sub->add_option("--max-pixels", o->max_pixels, "Refuse images with more pixels than this (default 100 megapixels; 0 = the default)");
  sub->callback([o, &ctx] { run_score(*o, ctx); });
}

}  // namespace hawkeye::cli
