// The synthetic set builder behind `hawkeye synth`: KADID-style distorted images from pristine references,
// labelled with KADID-10k's mean human score for each (type, level).
//
// Layout of the output folder:
//   references/<id>.png          each reference, cropped/resized to the target size (KADID scale)
//   images/<id>_<TT>_<L>.png     one image per reference x type x level (TT = KADID type id, 2 digits)
//   <split>.jsonl | <split>.csv  one manifest per split (FR form; paths relative to the folder)
//   splits.json                  which references are in which split (split_file format, see splits.h)
//   synth.json                   what was built: options, counts, seed, label table, time
// Manifest rows: image, reference, label (score field "label", scale [1, 5], higher is better), split, and the
// extra fields type_id, type_name, level, substitute, description.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hawkeye/data/splits.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/io.h"

namespace hawkeye {

struct SynthOptions {
  std::vector<std::filesystem::path> references;  // folders (their images, sorted, not recursive) and files
  std::filesystem::path out_dir;
  int width = 512;   // KADID's image size; the distortion parameters are in pixels at this scale
  int height = 384;
  std::vector<int> types;                  // KADID type ids; empty = every labelled type (24, without 15)
  std::vector<int> levels = {1, 2, 3, 4, 5};
  // > 0: every reference of a training split (a split whose name starts with "train") gets only this many of
  // the type x level combinations, chosen by the seed and the reference id and spread over the types (each type
  // once at a random level before any type gets a second level, ...). Other splits always get every
  // combination. 0 = every combination everywhere.
  int train_sample = 0;
  Jpeg2000Coder jpeg2000 = Jpeg2000Coder::opencv53;  // type 9's encoder (image/distortions/kadid.h)
  SplitFractions splits = {{"train", 0.8}, {"test", 0.2}};
  std::uint64_t seed = 0;
  int threads = 0;                         // 0 = all available cores
  bool progress = true;                    // progress bar on stderr (only when it is a terminal)
  bool force = false;                      // write into a non-empty out_dir
  std::string format = "jsonl";            // "jsonl", "csv" or "both"
  std::filesystem::path label_table;       // default: resources/kadid_type_level_dmos.csv
  ImageLimits limits;
};

struct SynthResult {
  std::size_t references = 0;
  std::size_t images = 0;
  std::map<std::string, std::size_t> rows_per_split;
  std::vector<std::filesystem::path> manifests;
  std::filesystem::path split_file;
  double seconds = 0;
};

// Builds the set. Errors: invalid_argument (options, non-empty out_dir without force, no references,
// duplicate reference ids), not_found, corrupt_data / unsupported / limit_exceeded (a reference that cannot
// be decoded, named), io.
SynthResult synthesize(const SynthOptions& options);

// The image files named by the inputs: a folder gives its images (has_image_extension, sorted by name),
// a file is taken as is. Errors: not_found; invalid_argument when nothing is found.
std::vector<std::filesystem::path> collect_reference_images(const std::vector<std::filesystem::path>& inputs);

// One id per reference file: the file stem, or "<parent>_<stem>" when two files share a stem.
// Errors: invalid_argument when ids still collide.
std::vector<std::string> reference_ids(const std::vector<std::filesystem::path>& files);

// "images/<id>_<TT>_<L>.png" as written in the manifests.
std::string synth_image_name(const std::string& reference_id, int type, int level);

}  // namespace hawkeye
