#include "hawkeye/core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"

namespace hawkeye {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

[[noreturn]] void bad(std::string_view source, const std::string& what) {
  throw Error(ErrorCode::corrupt_data, std::string(source) + ": invalid safetensors: " + what);
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

std::string_view st_dtype_name(StDtype d) {
  switch (d) {
    case StDtype::F64: return "F64";
    case StDtype::F32: return "F32";
    case StDtype::F16: return "F16";
    case StDtype::BF16: return "BF16";
    case StDtype::I64: return "I64";
    case StDtype::I32: return "I32";
    case StDtype::I16: return "I16";
    case StDtype::I8: return "I8";
    case StDtype::U8: return "U8";
    case StDtype::BOOL: return "BOOL";
  }
  return "?";
}

std::size_t st_dtype_size(StDtype d) {
  switch (d) {
    case StDtype::F64: case StDtype::I64: return 8;
    case StDtype::F32: case StDtype::I32: return 4;
    case StDtype::F16: case StDtype::BF16: case StDtype::I16: return 2;
    case StDtype::I8: case StDtype::U8: case StDtype::BOOL: return 1;
  }
  return 1;
}

StDtype st_dtype_from_name(std::string_view name) {
  static const std::pair<std::string_view, StDtype> table[] = {
      {"F64", StDtype::F64}, {"F32", StDtype::F32}, {"F16", StDtype::F16}, {"BF16", StDtype::BF16},
      {"I64", StDtype::I64}, {"I32", StDtype::I32}, {"I16", StDtype::I16}, {"I8", StDtype::I8},
      {"U8", StDtype::U8},   {"BOOL", StDtype::BOOL}};
  for (const auto& [n, d] : table)
    if (n == name) return d;
  throw Error(ErrorCode::corrupt_data, "unknown safetensors dtype '" + std::string(name) + "'");
}

std::uint64_t StTensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto s : shape) n *= static_cast<std::uint64_t>(s);
  return n;
}

StHeader parse_safetensors_header(std::string_view head, std::uint64_t file_size, std::string_view source) {
  StHeader h;
  if (file_size < 8 || head.size() < 8) bad(source, "file is shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(head[i]);
  if (n > file_size - 8) {
    bad(source, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(file_size) + " bytes)");
  }
  if (n > kMaxHeaderBytes) bad(source, "header length " + std::to_string(n) + " is larger than 100 MB");
  if (n < 2) bad(source, "header length " + std::to_string(n) + " is too small for a JSON object");
  if (head.size() < 8 + n) bad(source, "header is truncated");
  h.header_bytes = n;
  h.data_offset = 8 + n;
  const std::uint64_t data_size = file_size - h.data_offset;
  const std::string_view text = head.substr(8, n);

  // Duplicate top-level keys would silently overwrite each other in a JSON object: detect them while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
        const std::string k = parsed.get<std::string>();
        if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
      }
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    bad(source, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) bad(source, "tensor name '" + duplicate + "' appears twice in the header");
  if (!j.is_object()) bad(source, "header is not a JSON object");

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) bad(source, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) bad(source, "__metadata__." + m.key() + " is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) bad(source, "entry '" + name + "' is not an object");
    StTensorInfo t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) bad(source, "tensor '" + name + "': missing or non-string dtype");
    try {
      t.dtype = st_dtype_from_name(dt->get<std::string>());
    } catch (const Error&) {
      bad(source, "tensor '" + name + "': unknown dtype '" + dt->get<std::string>() + "'");
    }
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) bad(source, "tensor '" + name + "': missing or non-array shape");
    std::uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) bad(source, "tensor '" + name + "': shape entries must be non-negative integers");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(INT64_MAX) || mul_overflows(numel, dim, &numel)) {
        bad(source, "tensor '" + name + "': shape overflows");
      }
      t.shape.push_back(static_cast<std::int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      bad(source, "tensor '" + name + "': data_offsets must be two non-negative integers");
    }
    t.begin = (*off)[0].get<std::uint64_t>();
    t.end = (*off)[1].get<std::uint64_t>();
    if (t.begin > t.end) bad(source, "tensor '" + name + "': data_offsets begin > end");
    if (t.end > data_size) {
      bad(source, "tensor '" + name + "': data_offsets end " + std::to_string(t.end) + " is past the data area (" +
                      std::to_string(data_size) + " bytes)");
    }
    std::uint64_t nbytes = 0;
    if (mul_overflows(numel, st_dtype_size(t.dtype), &nbytes) || nbytes != t.end - t.begin) {
      bad(source, "tensor '" + name + "': " + std::to_string(t.end - t.begin) + " bytes do not match dtype " +
                      std::string(st_dtype_name(t.dtype)) + " x " + std::to_string(numel) + " elements");
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  for (const auto& t : h.tensors) {
    if (t.begin < cursor) bad(source, "tensor '" + t.name + "' overlaps the previous tensor");
    if (t.begin > cursor) bad(source, "hole in the data area before tensor '" + t.name + "'");
    cursor = t.end;
  }
  if (cursor != data_size) bad(source, "data area has " + std::to_string(data_size - cursor) + " bytes no tensor covers");
  return h;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) throw Error(ErrorCode::io, path.string() + ": cannot read: " + ec.message());
  if (!exists) throw Error(ErrorCode::not_found, path.string() + ": no such file");
  if (!fs::is_regular_file(path, ec)) throw Error(ErrorCode::invalid_argument, path.string() + ": not a regular file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::io, path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(ErrorCode::io, path.string() + ": cannot stat");
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->size_ = static_cast<std::uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw Error(ErrorCode::io, path.string() + ": cannot map: " + std::strerror(errno));
    f->base_ = static_cast<const std::uint8_t*>(p);
  } else {
    ::close(fd);
  }
  f->header_ = parse_safetensors_header(
      std::string_view(reinterpret_cast<const char*>(f->base_), f->size_), f->size_, path.string());
  for (std::size_t i = 0; i < f->header_.tensors.size(); ++i) f->index_[f->header_.tensors[i].name] = i;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) ::munmap(const_cast<std::uint8_t*>(base_), size_);
}

const StTensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

SafetensorsSet SafetensorsSet::open(const std::filesystem::path& path) {
  SafetensorsSet set;
  std::error_code ec;
  fs::path index;
  fs::path single;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json", ec)) index = path / "model.safetensors.index.json";
    else if (fs::exists(path / "model.safetensors", ec)) single = path / "model.safetensors";
    else throw Error(ErrorCode::not_found, path.string() + ": no model.safetensors or model.safetensors.index.json");
  } else if (path.extension() == ".json") {
    index = path;
  } else {
    single = path;
  }
  if (!single.empty()) {
    auto f = SafetensorsFile::open(single);
    for (const auto& t : f->header().tensors) set.entries_[t.name] = Entry{&t, f.get()};
    set.files_.push_back(std::move(f));
    return set;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(index, 64u << 20));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::corrupt_data, index.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error(ErrorCode::corrupt_data, index.string() + ": missing object 'weight_map'");
  }
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error(ErrorCode::corrupt_data, index.string() + ": weight_map['" + it.key() + "'] is not a string");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      throw Error(ErrorCode::corrupt_data, index.string() + ": weight_map['" + it.key() + "'] names an invalid shard '" + shard + "'");
    }
    if (!shards.count(shard)) shards[shard] = SafetensorsFile::open(index.parent_path() / shard);
  }
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    const auto& f = shards[it.value().get<std::string>()];
    const StTensorInfo* t = f->find(it.key());
    if (!t) {
      throw Error(ErrorCode::corrupt_data, index.string() + ": tensor '" + it.key() + "' is not in shard " + f->path().filename().string());
    }
    set.entries_[it.key()] = Entry{t, f.get()};
  }
  for (auto& [name, f] : shards) {
    for (const auto& t : f->header().tensors) {
      auto e = set.entries_.find(t.name);
      if (e == set.entries_.end()) {
        throw Error(ErrorCode::corrupt_data, f->path().string() + ": tensor '" + t.name + "' is missing from the index");
      }
      if (e->second.file != f.get()) {
        throw Error(ErrorCode::corrupt_data, "tensor '" + t.name + "' appears in more than one shard");
      }
    }
    set.files_.push_back(f);
  }
  return set;
}

const SafetensorsSet::Entry* SafetensorsSet::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

std::map<std::string, std::string> SafetensorsSet::metadata() const {
  std::map<std::string, std::string> m;
  for (const auto& f : files_) m.insert(f->header().metadata.begin(), f->header().metadata.end());
  return m;
}

namespace {

std::string build_header(const std::vector<const StTensorToWrite*>& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto* t : tensors) {
    require(names.insert(t->name).second, ErrorCode::invalid_argument, "tensor name '" + t->name + "' given twice");
    std::uint64_t numel = 1;
    for (auto d : t->shape) {
      require(d >= 0, ErrorCode::invalid_argument, "tensor '" + t->name + "' has a negative dimension");
      numel *= static_cast<std::uint64_t>(d);
    }
    require(numel * st_dtype_size(t->dtype) == t->nbytes, ErrorCode::invalid_argument,
            "tensor '" + t->name + "': byte count does not match shape and dtype");
    h[t->name] = {{"dtype", st_dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_file(const std::filesystem::path& path, const std::vector<const StTensorToWrite*>& tensors,
                const std::map<std::string, std::string>& metadata) {
  const std::string header = build_header(tensors, metadata);
  write_file_atomic(path, [&](std::ostream& out) {
    std::uint64_t n = header.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    out.write(len, 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto* t : tensors) out.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(t->nbytes));
  });
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<StTensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const StTensorToWrite*> ptrs;
  for (const auto& t : tensors) ptrs.push_back(&t);
  write_file(path, ptrs, metadata);
}

void write_safetensors_sharded(const std::filesystem::path& dir, const std::vector<StTensorToWrite>& tensors,
                               std::uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata) {
  std::vector<std::vector<const StTensorToWrite*>> shards(1);
  std::uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    if (in_shard > 0 && in_shard + t.nbytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += t.nbytes;
    total += t.nbytes;
  }
  fs::create_directories(dir);
  if (shards.size() == 1) {
    write_file(dir / "model.safetensors", shards[0], metadata);
    return;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  char name[64];
  for (std::size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_file(dir / name, shards[i], metadata);
    for (const auto* t : shards[i]) map[t->name] = name;
  }
  index["weight_map"] = map;
  write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace hawkeye
