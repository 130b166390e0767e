#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/safetensors.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

// A file from a header given as JSON text and a data area.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string corrupt_message(const std::string& file) {
  try {
    parse_safetensors_header(file, file.size(), "w.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data);
    return e.what();
  }
  ADD_FAILURE() << "accepted a corrupt header";
  return "";
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtypeBitExact) {
  test::TempDir dir;
  Rng rng(3);
  std::vector<std::vector<std::uint8_t>> buffers;
  std::vector<StTensorToWrite> tensors;
  const StDtype dtypes[] = {StDtype::F32, StDtype::F16, StDtype::BF16, StDtype::I64, StDtype::I32, StDtype::U8, StDtype::BOOL, StDtype::F64};
  int i = 0;
  for (StDtype d : dtypes) {
    std::vector<std::int64_t> shape{3, 5};
    std::vector<std::uint8_t> bytes(15 * st_dtype_size(d));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() & 0xFF);
    if (d == StDtype::BOOL)
      for (auto& b : bytes) b &= 1;
    buffers.push_back(std::move(bytes));
    tensors.push_back({"t" + std::to_string(i++) + "." + std::string(st_dtype_name(d)), d, shape, buffers.back().data(),
                       buffers.back().size()});
  }
  tensors.push_back({"scalar", StDtype::F32, {}, buffers[0].data(), 4});
  tensors.push_back({"empty", StDtype::F32, {0, 4}, nullptr, 0});
  write_safetensors(dir.path() / "a.safetensors", tensors, {{"format", "pt"}});
  const auto f = SafetensorsFile::open(dir.path() / "a.safetensors");
  EXPECT_EQ(f->header().metadata.at("format"), "pt");
  EXPECT_EQ(f->header().data_offset % 8, 0u);
  for (const auto& t : tensors) {
    const auto* info = f->find(t.name);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_EQ(info->dtype, t.dtype);
    EXPECT_EQ(info->shape, t.shape);
    ASSERT_EQ(info->end - info->begin, t.nbytes);
    if (t.nbytes) EXPECT_EQ(std::memcmp(f->data(*info), t.data, t.nbytes), 0) << t.name;
  }
}

TEST(Safetensors, ShardedSetResolvesEveryTensor) {
  test::TempDir dir;
  std::vector<float> a(1000, 1.f), b(1000, 2.f), c(10, 3.f);
  std::vector<StTensorToWrite> tensors = {{"a", StDtype::F32, {1000}, a.data(), 4000},
                                          {"b", StDtype::F32, {10, 100}, b.data(), 4000},
                                          {"c", StDtype::F32, {10}, c.data(), 40}};
  write_safetensors_sharded(dir.path() / "m", tensors, 5000);
  EXPECT_TRUE(fs::exists(dir.path() / "m" / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(dir.path() / "m" / "model-00002-of-00002.safetensors"));
  const auto set = SafetensorsSet::open(dir.path() / "m");
  ASSERT_EQ(set.size(), 3u);
  float v;
  std::memcpy(&v, set.find("b")->data(), 4);
  EXPECT_EQ(v, 2.f);
  // an index naming a tensor that its shard lacks is refused
  auto index = nlohmann::json::parse(read_file(dir.path() / "m" / "model.safetensors.index.json"));
  index["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
  write_file_atomic(dir.path() / "m" / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(SafetensorsSet::open(dir.path() / "m"), Error);
  index["weight_map"].erase("ghost");
  index["weight_map"]["a"] = "../../etc/passwd";
  write_file_atomic(dir.path() / "m" / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(SafetensorsSet::open(dir.path() / "m"), Error);
}

TEST(Safetensors, RejectsEveryCorruption) {
  const std::string data8(8, '\0');
  EXPECT_NE(corrupt_message("abc").find("shorter"), std::string::npos);
  {  // header length beyond the file
    std::string f = make_file("{}", "");
    f[0] = static_cast<char>(200);
    EXPECT_NE(corrupt_message(f).find("past the end"), std::string::npos);
  }
  {  // huge length field
    std::string f = make_file("{}", "");
    for (int i = 0; i < 8; ++i) f[i] = '\xff';
    EXPECT_NE(corrupt_message(f).find("past the end"), std::string::npos);
  }
  EXPECT_NE(corrupt_message(make_file("not json", "")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(corrupt_message(make_file("[1,2]", "")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data8)).find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8)).find("do not match"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8)).find("non-negative"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8)).find("past the data area"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", data8)).find("begin > end"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                      data8))
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8)).find("hole"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data8)).find("no tensor covers"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                      data8))
                .find("appears twice"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"__metadata__":{"k":1}})", "")).find("not a string"), std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", data8))
                .find("overflows"),
            std::string::npos);
  EXPECT_NE(corrupt_message(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8)).find("data_offsets"),
            std::string::npos);
}

TEST(Safetensors, RandomMutationsNeverCrash) {
  std::vector<float> a(16, 1.f);
  test::TempDir dir;
  write_safetensors(dir.path() / "a.safetensors", {{"weight", StDtype::F32, {4, 4}, a.data(), 64}});
  const std::string good = read_file(dir.path() / "a.safetensors");
  Rng rng(11);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string m = good;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int k = 0; k < edits; ++k) m[rng.below(m.size())] = static_cast<char>(rng() & 0xFF);
    if (rng.below(4) == 0) m.resize(rng.below(m.size()));
    try {
      parse_safetensors_header(m, m.size(), "fuzz");
    } catch (const Error&) {
    }
  }
}

TEST(Safetensors, OpenErrors) {
  test::TempDir dir;
  EXPECT_THROW(SafetensorsFile::open(dir.path() / "nope.safetensors"), Error);
  write_file_atomic(dir.path() / "empty.safetensors", "");
  EXPECT_THROW(SafetensorsFile::open(dir.path() / "empty.safetensors"), Error);
  EXPECT_THROW(SafetensorsSet::open(dir.path()), Error);
}
