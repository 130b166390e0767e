#include "hawkeye/data/synth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>

#include "data/batch.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/version.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/ops.h"

namespace hawkeye {

std::vector<std::filesystem::path> collect_reference_images(const std::vector<std::filesystem::path>& inputs) {
  std::vector<std::filesystem::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (!std::filesystem::exists(in, ec)) throw Error(ErrorCode::not_found, in.string() + ": no such file or directory");
    if (std::filesystem::is_directory(in, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& e : std::filesystem::directory_iterator(in)) {
        if (e.is_regular_file() && has_image_extension(e.path())) found.push_back(e.path());
      }
      if (found.empty()) throw Error(ErrorCode::invalid_argument, in.string() + ": no images in this folder");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  if (files.empty()) throw Error(ErrorCode::invalid_argument, "no reference images given");
  return files;
}

std::vector<std::string> reference_ids(const std::vector<std::filesystem::path>& files) {
  std::map<std::string, int> stem_count;
  for (const auto& f : files) ++stem_count[f.stem().string()];
  std::vector<std::string> ids;
  std::map<std::string, std::string> taken;
  for (const auto& f : files) {
    std::string id = f.stem().string();
    if (stem_count[id] > 1) id = f.parent_path().filename().string() + "_" + id;
    for (char& c : id)
      if (c == '/' || c == '\\' || c == ' ' || c == '|') c = '_';
    const auto [it, fresh] = taken.emplace(id, f.string());
    if (!fresh) {
      throw Error(ErrorCode::invalid_argument,
                  "references " + it->second + " and " + f.string() + " would both be called '" + id + "'; rename one");
    }
    ids.push_back(id);
  }
  return ids;
}

std::string synth_image_name(const std::string& reference_id, int type, int level) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "_%02d_%d.png", type, level);
  return "images/" + reference_id + buf;
}

SynthResult synthesize(const SynthOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  require(opt.width >= 48 && opt.height >= 48 && opt.width <= 8192 && opt.height <= 8192, ErrorCode::invalid_argument,
          "synth: size " + std::to_string(opt.width) + "x" + std::to_string(opt.height) + " must be 48..8192 per side");
  require(opt.format == "jsonl" || opt.format == "csv" || opt.format == "both", ErrorCode::invalid_argument,
          "synth: format must be jsonl, csv or both, not '" + opt.format + "'");
  require(!opt.out_dir.empty(), ErrorCode::invalid_argument, "synth: no output folder given");
  require(!opt.levels.empty(), ErrorCode::invalid_argument, "synth: no levels given");
  require(!opt.splits.empty(), ErrorCode::invalid_argument, "synth: no splits given");
  const std::vector<int> types = opt.types.empty() ? parse_kadid_types("all") : opt.types;
  for (int t : types) kadid_distortion(t);
  for (int l : opt.levels) require(l >= 1 && l <= kKadidLevelCount, ErrorCode::invalid_argument, "synth: levels are 1..5");
  const KadidLabelTable labels =
      opt.label_table.empty() ? KadidLabelTable::load_default() : KadidLabelTable::load(opt.label_table);

  const std::vector<std::filesystem::path> files = collect_reference_images(opt.references);
  const std::vector<std::string> ids = reference_ids(files);

  std::error_code ec;
  if (std::filesystem::exists(opt.out_dir, ec)) {
    require(std::filesystem::is_directory(opt.out_dir, ec), ErrorCode::invalid_argument,
            opt.out_dir.string() + ": exists and is not a folder");
    require(opt.force || std::filesystem::is_empty(opt.out_dir, ec), ErrorCode::invalid_argument,
            opt.out_dir.string() + ": folder is not empty (use --force to write into it)");
  }
  std::filesystem::create_directories(opt.out_dir / "references", ec);
  std::filesystem::create_directories(opt.out_dir / "images", ec);
  if (ec) throw Error(ErrorCode::io, opt.out_dir.string() + ": cannot create folders: " + ec.message());

  const int threads = resolve_thread_count(opt.threads);
  // Our workers are the parallelism; OpenCV's own pool inside each call would only oversubscribe the cores.
  const SerialOpenCvScope serial_opencv;

  // 1. References at the target size.
  std::vector<Image> refs(files.size());
  parallel_for(files.size(), threads, [&](std::size_t i, int) {
    refs[i] = resize_cover(load_image(files[i], opt.limits), opt.width, opt.height);
    write_file_fast(opt.out_dir / "references" / (ids[i] + ".png"), encode_image(refs[i], "png"));
  });

  // 2. Splits by reference.
  const std::map<std::string, std::string> assignment = assign_splits(ids, opt.splits, opt.seed);

  // 3. Every reference x type x level.
  struct Job {
    std::size_t ref;
    int type, level;
  };
  std::vector<Job> jobs;
  for (std::size_t r = 0; r < refs.size(); ++r) {
    const bool sampled = opt.train_sample > 0 && assignment.at(ids[r]).rfind("train", 0) == 0 &&
                         static_cast<std::size_t>(opt.train_sample) < types.size() * opt.levels.size();
    if (!sampled) {
      for (int t : types)
        for (int l : opt.levels) jobs.push_back({r, t, l});
      continue;
    }
    // Round robin over the types in a shuffled order, each type's levels in a shuffled order.
    Rng rng(derive_seed(opt.seed, ids[r] + "|train_sample"));
    std::vector<int> order = types;
    std::vector<std::vector<int>> levels(types.size(), opt.levels);
    const auto shuffle = [&rng](std::vector<int>& v) {  // Fisher-Yates (std::shuffle differs between libraries)
      for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    };
    shuffle(order);
    for (auto& l : levels) shuffle(l);
    std::vector<Job> picked;
    for (std::size_t round = 0; picked.size() < static_cast<std::size_t>(opt.train_sample); ++round)
      for (std::size_t k = 0; k < order.size() && picked.size() < static_cast<std::size_t>(opt.train_sample); ++k)
        picked.push_back({r, order[k], levels[k][round]});
    std::sort(picked.begin(), picked.end(), [](const Job& a, const Job& b) { return std::tie(a.type, a.level) < std::tie(b.type, b.level); });
    jobs.insert(jobs.end(), picked.begin(), picked.end());
  }
  Progress progress("synth", jobs.size(), opt.progress);
  KadidOptions kadid;
  kadid.jpeg2000 = opt.jpeg2000;
  parallel_for(
      jobs.size(), threads,
      [&](std::size_t i, int) {
        const Job& j = jobs[i];
        const Image out = apply_kadid(refs[j.ref], j.type, j.level, kadid_seed(opt.seed, ids[j.ref], j.type, j.level), kadid);
        write_file_fast(opt.out_dir / synth_image_name(ids[j.ref], j.type, j.level), encode_image(out, "png"));
        progress.advance();
      });
  progress.finish();

  // 4. Manifests, one per split, rows in (reference, type, level) order.
  std::map<std::string, Manifest> per_split;
  for (const auto& [name, fraction] : opt.splits) {
    Manifest& m = per_split[name];
    m.form = ManifestForm::full_reference;
    m.score_name = "label";
    m.scale = ScoreScale{1.0, 5.0, true};
    m.root = opt.out_dir;
  }
  for (const Job& j : jobs) {
    const std::string& id = ids[j.ref];
    const KadidDistortion& d = kadid_distortion(j.type);
    ManifestRow row;
    row.image = synth_image_name(id, j.type, j.level);
    row.reference = "references/" + id + ".png";
    row.score = labels.mean(j.type, j.level);
    row.split = assignment.at(id);
    row.extra["type_id"] = j.type;
    row.extra["type_name"] = std::string(d.name);
    row.extra["level"] = j.level;
    row.extra["substitute"] = d.substitute;
    row.extra["description"] =
        describe_kadid(j.type, j.level, row.score, derive_seed(opt.seed, id + "|description|" + std::to_string(j.type) + "|" +
                                                                             std::to_string(j.level)));
    per_split.at(row.split).rows.push_back(std::move(row));
  }
  SynthResult result;
  for (auto& [name, m] : per_split) {
    for (const char* ext : {".jsonl", ".csv"}) {
      if (opt.format != "both" && opt.format != std::string(ext + 1)) continue;
      const auto path = opt.out_dir / (name + ext);
      m.source = path.string();
      write_manifest(path, m);
      result.manifests.push_back(path);
    }
    result.rows_per_split[name] = m.rows.size();
    // Splits are made by reference: with fewer references than splits one stays empty. Say so, not silently.
    if (m.rows.empty()) {
      spdlog::warn("synth: split '{}' is empty: {} reference(s) for {} split(s), and a reference goes to one split whole",
                   name, ids.size(), opt.splits.size());
    }
  }
  result.split_file = opt.out_dir / "splits.json";
  write_split_file(result.split_file, assignment, opt.splits, opt.seed);

  result.references = refs.size();
  result.images = jobs.size();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::ordered_json info;
  info["hawkeye_version"] = version();
  info["git_revision"] = git_revision();
  info["seed"] = opt.seed;
  info["size"] = {opt.width, opt.height};
  info["types"] = types;
  info["levels"] = opt.levels;
  info["train_sample"] = opt.train_sample;
  info["jpeg2000"] = std::string(jpeg2000_coder_name(opt.jpeg2000));
  info["splits"] = nlohmann::ordered_json::object();
  for (const auto& [name, f] : opt.splits) info["splits"][name] = f;
  info["references"] = result.references;
  info["images"] = result.images;
  info["rows_per_split"] = result.rows_per_split;
  info["labels"] = {{"source", labels.source()},
                    {"meaning", "KADID-10k mean DMOS of the (type, level) over its 81 references; 1..5, higher is better"}};
  info["threads"] = threads;
  info["seconds"] = result.seconds;
  write_file_atomic(opt.out_dir / "synth.json", info.dump(2) + "\n");
  return result;
}

}  // namespace hawkeye
