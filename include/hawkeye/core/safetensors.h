// The safetensors file format (Hugging Face): 8-byte little-endian header length, a JSON header naming every
// tensor's dtype, shape and byte range, then the raw little-endian data. Torch-free: the model layer turns
// the views into tensors. Every offset is checked; any violation is Error(corrupt_data) naming the field.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::string_view st_dtype_name(StDtype d);
std::size_t st_dtype_size(StDtype d);
StDtype st_dtype_from_name(std::string_view name);  // throws Error(corrupt_data) for unknown names

struct StTensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets relative to the data area
  std::uint64_t end = 0;
  std::uint64_t numel() const;
};

struct StHeader {
  std::uint64_t header_bytes = 0;  // length of the JSON header
  std::uint64_t data_offset = 0;   // 8 + header_bytes
  std::vector<StTensorInfo> tensors;  // sorted by begin
  std::map<std::string, std::string> metadata;
};

// Parses and validates the header of a whole file held in memory (or its first bytes plus the real
// file size). Checks: header length within the file and below 100 MB, valid JSON object, known dtypes,
// non-negative shapes without overflow, byte length == numel x dtype size, offsets inside the data area,
// no overlaps and no holes, unique names, string metadata. `source` names the file in errors.
StHeader parse_safetensors_header(std::string_view head, std::uint64_t file_size, std::string_view source);

// A read-only memory-mapped safetensors file.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const StHeader& header() const { return header_; }
  const StTensorInfo* find(std::string_view name) const;
  // Pointer to a tensor's bytes inside the mapping (not necessarily aligned).
  const std::uint8_t* data(const StTensorInfo& t) const { return base_ + header_.data_offset + t.begin; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  const std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
  StHeader header_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

// One file or a sharded set (model.safetensors.index.json + shards) behind one lookup.
class SafetensorsSet {
 public:
  // `path` is a .safetensors file, an index .json, or a directory holding model.safetensors or
  // model.safetensors.index.json.
  static SafetensorsSet open(const std::filesystem::path& path);
  struct Entry {
    const StTensorInfo* info = nullptr;
    const SafetensorsFile* file = nullptr;
    const std::uint8_t* data() const { return file->data(*info); }
  };
  const Entry* find(std::string_view name) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return entries_.size(); }
  std::map<std::string, std::string> metadata() const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> entries_;
};

struct StTensorToWrite {
  std::string name;
  StDtype dtype;
  std::vector<std::int64_t> shape;
  const void* data;
  std::uint64_t nbytes;
};

// Writes one file atomically. The header is padded with spaces to a multiple of 8 bytes.
void write_safetensors(const std::filesystem::path& path, const std::vector<StTensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes `dir/model-0000i-of-0000n.safetensors` shards of at most max_shard_bytes each (a tensor never
// spans shards) and `dir/model.safetensors.index.json`. With one shard, writes dir/model.safetensors only.
void write_safetensors_sharded(const std::filesystem::path& dir, const std::vector<StTensorToWrite>& tensors,
                               std::uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata = {});

}  // namespace hawkeye
