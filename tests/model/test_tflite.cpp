// hawkeye import tflite: dequantised values, PyTorch names and layouts of MobileNetV2, the layer metadata,
// the other shipped TFLite files, hostile files (Error(corrupt_data), never a crash) and the CLI.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/tflite.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

fs::path qat_file() { return test::source_dir() / "models/pretrained/mobilenet_v2_1.0_224_quant.tflite"; }

const TfliteImport& qat() {
  static const TfliteImport imported = import_tflite(qat_file());
  return imported;
}

const TfliteTensor& tensor(const std::string& name) {
  const TfliteTensor* t = qat().find(name);
  if (!t) throw std::runtime_error("no tensor " + name);
  return *t;
}

std::string file_bytes() { return read_file(qat_file()); }

fs::path write_bytes(const test::TempDir& dir, const std::string& name, const std::string& bytes) {
  const fs::path p = dir.path() / name;
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

void put_u32(std::string& bytes, std::size_t at, std::uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
std::uint32_t get_u32(const std::string& bytes, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, bytes.data() + at, 4);
  return v;
}

// The import must fail with corrupt_data and a message naming the file.
void expect_corrupt(const fs::path& file, const std::string& what) {
  try {
    import_tflite(file);
    ADD_FAILURE() << what << ": imported without an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(file.string() + ": "), std::string::npos) << e.what();
  }
}

// MobileNetV2 1.0 (Sandler et al. 2018, Table 2; torchvision's inverted_residual_setting): expansion t,
// output channels c, repeats n, first stride s.
struct Stage {
  int t, c, n, s;
};
constexpr Stage kV2Stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

struct BlockShape {
  std::int64_t in, hidden, out;
  int stride;
  bool residual;
};

std::vector<BlockShape> v2_blocks() {
  std::vector<BlockShape> blocks;
  std::int64_t in = 32;
  for (const auto& st : kV2Stages) {
    for (int i = 0; i < st.n; ++i) {
      const int stride = i == 0 ? st.s : 1;
      blocks.push_back({in, in * st.t, st.c, stride, stride == 1 && in == st.c});
      in = st.c;
    }
  }
  return blocks;
}

using Shape = std::vector<std::int64_t>;

}  // namespace

// Expected values: computed independently with python3-flatbuffers 2.0.8 (`flatc --python` of
// resources/tflite/schema.fbs into /tmp), reading models/pretrained/mobilenet_v2_1.0_224_quant.tflite and
// dequantising by hand: float32(float64(scale) * (q - zero_point)), torch index [o,i,h,w] taken from the TFLite
// OHWI index ((o*kh + h)*kw + w)*I + i (depthwise [c,0,h,w] from (h*kw + w)*C + c).
TEST(TfliteImport, DequantisesUint8WeightsPerTensorIntoTorchLayout) {
  const auto& stem = tensor("stem.weight");  // UINT8, scale 0.03396892547607422, zero point 122
  EXPECT_EQ(stem.source_dtype, "UINT8");
  EXPECT_EQ(stem.quantization, "per_tensor");
  ASSERT_GE(stem.values.size(), 4u);
  EXPECT_FLOAT_EQ(stem.values[0], -0.5095338821411133f);  // [0,0,0,0]
  EXPECT_FLOAT_EQ(stem.values[1], -0.7133474349975586f);  // [0,0,0,1]
  EXPECT_FLOAT_EQ(stem.values[2], -0.2038135528564453f);  // [0,0,0,2]
  EXPECT_FLOAT_EQ(stem.values[3], 0.6793785095214844f);   // [0,0,1,0]
  EXPECT_FLOAT_EQ(stem.values[9], -0.8492231369018555f);  // [0,1,0,0]

  // blocks.0.depthwise: UINT8, scale 0.3436955213546753, zero point 165; channels 2 and 3, [c, 0, :, :].
  const auto& dw = tensor("blocks.0.depthwise.weight");
  const float ch2[9] = {-1.0310865640640259f, -0.3436955213546753f, 0.6873910427093506f, -0.3436955213546753f, 0.0f,
                        0.3436955213546753f,  0.6873910427093506f,  0.3436955213546753f, 0.0f};
  const float ch3[9] = {-42.2745475769043f,   -54.647586822509766f, -53.96019744873047f,
                        -56.366065979003906f, -51.55432891845703f,  -49.148460388183594f,
                        -39.86867904663086f,  -41.93085479736328f,  -41.93085479736328f};
  for (int k = 0; k < 9; ++k) {
    EXPECT_FLOAT_EQ(dw.values[2 * 9 + k], ch2[k]) << "channel 2, tap " << k;
    EXPECT_FLOAT_EQ(dw.values[3 * 9 + k], ch3[k]) << "channel 3, tap " << k;
  }

  const auto& head = tensor("head.weight");  // [1280, 320, 1, 1]
  EXPECT_FLOAT_EQ(head.values[0], -0.09300721436738968f);
  EXPECT_FLOAT_EQ(head.values[1], 0.10850841552019119f);
  EXPECT_FLOAT_EQ(head.values[2], 0.17051322758197784f);
  EXPECT_FLOAT_EQ(head.values[3], -0.11884254962205887f);
  EXPECT_FLOAT_EQ(tensor("classifier.weight").values.back(), -0.0591878741979599f);  // [1000, 1279]
}

TEST(TfliteImport, DequantisesInt32BiasesWithTheirOwnScale) {
  const auto& stem = tensor("stem.bias");  // INT32, scale 0.00026538223028182983, zero point 0
  EXPECT_EQ(stem.source_dtype, "INT32");
  EXPECT_FLOAT_EQ(stem.values[0], 2.2599949836730957f);
  EXPECT_FLOAT_EQ(stem.values[1], 2.8918702602386475f);
  EXPECT_FLOAT_EQ(stem.values[2], -1.316030502319336f);
  const auto& project = tensor("blocks.16.project.bias");  // scale 0.00018844637088477612
  EXPECT_FLOAT_EQ(project.values[0], -3.645683526992798f);
  EXPECT_FLOAT_EQ(project.values[1], 8.414130210876465f);
  EXPECT_FLOAT_EQ(project.values[2], 2.078186511993408f);
  const auto& cls = tensor("classifier.bias");  // scale 3.978858876507729e-05
  ASSERT_EQ(cls.values.size(), 1001u);
  EXPECT_FLOAT_EQ(cls.values[0], -0.28349369764328003f);
  EXPECT_FLOAT_EQ(cls.values[1], -0.016114378347992897f);
  EXPECT_FLOAT_EQ(cls.values[2], -0.21434113383293152f);
  EXPECT_FLOAT_EQ(cls.values[3], -0.20940734446048737f);
  EXPECT_FLOAT_EQ(cls.values[1000], -0.16436666250228882f);
}

TEST(TfliteImport, NamesEveryMobileNetV2LayerWithTorchShapes) {
  const auto& m = qat();
  EXPECT_EQ(m.architecture, "mobilenet_v2");
  EXPECT_EQ(m.classes, 1001);
  EXPECT_EQ(m.source, "mobilenet_v2_1.0_224_quant.tflite");
  std::vector<std::pair<std::string, Shape>> want = {{"stem.weight", {32, 3, 3, 3}}, {"stem.bias", {32}}};
  const auto blocks = v2_blocks();
  ASSERT_EQ(blocks.size(), 17u);
  for (std::size_t n = 0; n < blocks.size(); ++n) {
    const auto& b = blocks[n];
    const std::string p = "blocks." + std::to_string(n) + ".";
    if (n > 0) {
      want.push_back({p + "expand.weight", {b.hidden, b.in, 1, 1}});
      want.push_back({p + "expand.bias", {b.hidden}});
    }
    want.push_back({p + "depthwise.weight", {b.hidden, 1, 3, 3}});
    want.push_back({p + "depthwise.bias", {b.hidden}});
    want.push_back({p + "project.weight", {b.out, b.hidden, 1, 1}});
    want.push_back({p + "project.bias", {b.out}});
  }
  want.push_back({"head.weight", {1280, 320, 1, 1}});
  want.push_back({"head.bias", {1280}});
  want.push_back({"classifier.weight", {1001, 1280}});
  want.push_back({"classifier.bias", {1001}});
  ASSERT_EQ(m.tensors.size(), want.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(m.tensors[i].name, want[i].first);
    EXPECT_EQ(m.tensors[i].shape, want[i].second) << want[i].first;
    std::int64_t numel = 1;
    for (auto d : want[i].second) numel *= d;
    EXPECT_EQ(static_cast<std::int64_t>(m.tensors[i].values.size()), numel) << want[i].first;
    total += static_cast<std::uint64_t>(numel);
  }
  EXPECT_EQ(m.parameters(), total);
  // torchvision's 3,504,872, less one of BatchNorm's two vectors per conv (17,056: folded into the biases), plus
  // the 1001st class (1,281).
  EXPECT_EQ(total, 3489097u);
}

TEST(TfliteImport, RecordsStridesPaddingActivationsAndResiduals) {
  const auto& m = qat();
  EXPECT_EQ(m.find_layer("stem")->stride_h, 2);
  const auto blocks = v2_blocks();
  for (std::size_t n = 0; n < blocks.size(); ++n) {
    const std::string p = "blocks." + std::to_string(n) + ".";
    const auto* dw = m.find_layer(p + "depthwise");
    const auto* project = m.find_layer(p + "project");
    ASSERT_TRUE(dw && project) << p;
    // The net's strided blocks are 1, 3, 6 and 13 (the stride sits on the depthwise convolution).
    EXPECT_EQ(dw->stride_h, blocks[n].stride) << p;
    EXPECT_EQ(dw->stride_w, blocks[n].stride) << p;
    EXPECT_EQ(dw->depth_multiplier, 1) << p;
    EXPECT_EQ(dw->activation, "RELU6") << p;
    EXPECT_EQ(project->activation, "NONE") << p;  // linear bottleneck
    EXPECT_EQ(project->residual, blocks[n].residual) << p;
    if (n > 0) {
      EXPECT_EQ(m.find_layer(p + "expand")->activation, "RELU6") << p;
    }
  }
  for (const auto& l : m.layers) EXPECT_EQ(l.padding, "SAME") << l.name;
  EXPECT_EQ(m.find_layer("head")->activation, "RELU6");
  EXPECT_EQ(m.find_layer("classifier")->activation, "NONE");
  // The QAT net's input: uint8 NHWC, real = 0.0078125 * (q - 128), i.e. [-1, 1).
  EXPECT_EQ(m.input.dtype, "UINT8");
  EXPECT_EQ(m.input.shape, (Shape{1, 224, 224, 3}));
  EXPECT_DOUBLE_EQ(m.input.scale, 0.0078125);
  EXPECT_EQ(m.input.zero_point, 128);
}

TEST(TfliteImport, WritesSafetensorsWithLayerMetadataAndRefusesToOverwrite) {
  test::TempDir dir;
  const fs::path out = dir.path() / "mnv2";
  write_import(qat(), out);
  const auto st = SafetensorsFile::open(out / "model.safetensors");
  EXPECT_EQ(st->header().tensors.size(), qat().tensors.size());
  const auto* w = st->find("blocks.3.depthwise.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, StDtype::F32);
  EXPECT_EQ(w->shape, (Shape{144, 1, 3, 3}));
  float first;
  std::memcpy(&first, st->data(*st->find("classifier.bias")), sizeof first);
  EXPECT_FLOAT_EQ(first, -0.28349369764328003f);
  const auto& meta = st->header().metadata;
  EXPECT_EQ(meta.at("architecture"), "mobilenet_v2");
  EXPECT_EQ(meta.at("classes"), "1001");
  EXPECT_EQ(meta.at("source"), "mobilenet_v2_1.0_224_quant.tflite");
  const auto layers = nlohmann::json::parse(meta.at("layers"));
  EXPECT_EQ(layers["blocks.1.depthwise"]["stride"], nlohmann::json::parse("[2, 2]"));
  EXPECT_EQ(layers["blocks.1.depthwise"]["padding"], "SAME");
  EXPECT_EQ(layers["blocks.1.depthwise"]["activation"], "RELU6");
  EXPECT_EQ(layers["blocks.1.depthwise"]["depth_multiplier"], 1);
  EXPECT_EQ(layers["blocks.2.project"]["residual"], true);
  EXPECT_EQ(layers["blocks.3.project"]["residual"], false);
  const auto input = nlohmann::json::parse(meta.at("input"));
  EXPECT_EQ(input["zero_point"], 128);
  const auto report = nlohmann::json::parse(read_file(out / "tflite.json"));
  EXPECT_EQ(report["architecture"], "mobilenet_v2");
  EXPECT_EQ(report["tensors"].size(), qat().tensors.size());

  try {
    write_import(qat(), out);
    ADD_FAILURE() << "overwrote without force";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  EXPECT_NO_THROW(write_import(qat(), out, true));
}

TEST(TfliteImport, ImportsThePostTrainingQuantisedV2AndTheV1FeatureExtractor) {
  // Two more google-coral/test_data networks (7 MB, not in the repository): scripts/get-data.sh fetches them.
  const fs::path dir = test::full_data_file("pretrained/tf2_mobilenet_v2_1.0_224_ptq.tflite").parent_path();
  if (dir.empty() || !fs::exists(dir / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"))
    GTEST_SKIP() << "pretrained/tf2_mobilenet_v2_1.0_224_ptq.tflite and mobilenet_v1_1.0_224_quant_embedding_extractor.tflite "
                    "are not here (bash scripts/get-data.sh fetches them)";
  const auto ptq = import_tflite(dir / "tf2_mobilenet_v2_1.0_224_ptq.tflite");
  EXPECT_EQ(ptq.architecture, "mobilenet_v2");
  EXPECT_EQ(ptq.classes, 1001);
  EXPECT_EQ(ptq.tensors.size(), qat().tensors.size());
  // INT8 per-channel along dimension 0; python3-flatbuffers as above: scale[1] = 0.027239613234996796, zero 0.
  const auto* stem = ptq.find("stem.weight");
  ASSERT_NE(stem, nullptr);
  EXPECT_EQ(stem->source_dtype, "INT8");
  EXPECT_EQ(stem->quantization, "per_channel");
  EXPECT_FLOAT_EQ(stem->values[27 + 0], -1.4981787204742432f);  // [1,0,0,0]
  EXPECT_FLOAT_EQ(stem->values[27 + 1], 1.5798975229263306f);   // [1,0,0,1]
  EXPECT_FLOAT_EQ(stem->values[27 + 2], -0.24515652656555176f); // [1,0,0,2]
  EXPECT_FLOAT_EQ(ptq.find("stem.bias")->values[1], 2.9057724475860596f);

  const auto v1 = import_tflite(dir / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite");
  EXPECT_EQ(v1.architecture, "mobilenet_v1");
  EXPECT_EQ(v1.classes, 0);  // an embedding extractor: no classifier
  EXPECT_NE(v1.find("blocks.12.project.weight"), nullptr);
  EXPECT_EQ(v1.find("blocks.12.project.weight")->shape, (Shape{1024, 1024, 1, 1}));
  EXPECT_EQ(v1.find("blocks.0.expand.weight"), nullptr);
  EXPECT_EQ(v1.find("head.weight"), nullptr);
}

TEST(TfliteImport, RefusesEmptyTruncatedAndForeignFiles) {
  test::TempDir dir;
  const std::string bytes = file_bytes();
  expect_corrupt(write_bytes(dir, "empty.tflite", ""), "empty file");
  expect_corrupt(write_bytes(dir, "tiny.tflite", bytes.substr(0, 5)), "5 bytes");
  expect_corrupt(write_bytes(dir, "half.tflite", bytes.substr(0, bytes.size() / 2)), "first half");
  // The file ends with a ZIP of the labels (TFLite metadata, 21,822 bytes) that the flatbuffer does not
  // reference: cutting into it is invisible, cutting into the tables before it is not.
  expect_corrupt(write_bytes(dir, "cut.tflite", bytes.substr(0, bytes.size() - 30000)), "last 30000 bytes cut");
  std::string wrong = bytes;
  std::memcpy(wrong.data() + 4, "TFL2", 4);
  expect_corrupt(write_bytes(dir, "ident.tflite", wrong), "identifier TFL2");
  std::string root = bytes;
  put_u32(root, 0, 0xfffffff0u);  // the root table offset points past the end
  expect_corrupt(write_bytes(dir, "root.tflite", root), "root offset");
}

// Byte positions found with python3-flatbuffers (Table.Pos + Table.Offset(field)) in the vendored file; each
// test first checks that the original value is there, so a different file fails loudly instead of passing.
TEST(TfliteImport, RefusesOutOfRangeIndicesAndSizesThatDisagreeWithTheShape) {
  test::TempDir dir;
  const std::string bytes = file_bytes();
  constexpr std::size_t kStemBufferField = 3579604;  // tensor 55 (stem weights): buffer = 56
  constexpr std::size_t kStemShape0 = 3579744;       // tensor 55: shape [32, 3, 3, 3]
  constexpr std::size_t kOp0Input1 = 3550752 + 4;    // operator 0: inputs [0, 55, 54]
  constexpr std::size_t kOp1Opcode = 3550612;        // operator 1: opcode_index = 1
  ASSERT_EQ(get_u32(bytes, kStemBufferField), 56u);
  ASSERT_EQ(get_u32(bytes, kStemShape0), 32u);
  ASSERT_EQ(get_u32(bytes, kOp0Input1), 55u);
  ASSERT_EQ(get_u32(bytes, kOp1Opcode), 1u);

  std::string b = bytes;
  put_u32(b, kStemBufferField, 100000);
  expect_corrupt(write_bytes(dir, "buffer.tflite", b), "buffer index out of range");
  b = bytes;
  put_u32(b, kStemShape0, 31);
  expect_corrupt(write_bytes(dir, "shape.tflite", b), "shape x dtype != buffer size");
  b = bytes;
  put_u32(b, kStemShape0, static_cast<std::uint32_t>(-32));
  expect_corrupt(write_bytes(dir, "negative.tflite", b), "negative dimension");
  b = bytes;
  put_u32(b, kOp0Input1, 5000);
  expect_corrupt(write_bytes(dir, "tensor.tflite", b), "tensor index out of range");
  b = bytes;
  put_u32(b, kOp1Opcode, 77);
  expect_corrupt(write_bytes(dir, "opcode.tflite", b), "opcode index out of range");
}

// Single-byte flips over the flatbuffer's tables (after the weight data, which no format can verify: a flipped
// weight byte only changes a weight): every flip either imports or is a hawkeye::Error, never a crash.
TEST(TfliteImport, SurvivesByteFlipsInTheTables) {
  test::TempDir dir;
  const std::string bytes = file_bytes();
  constexpr std::size_t kTablesStart = 3546428;  // end of the last weight buffer (python3-flatbuffers)
  constexpr std::size_t kZipStart = 3588976;     // the appended labels ZIP, which no table references
  int refused = 0, imported = 0;
  for (std::size_t at = kTablesStart + 3; at < kZipStart; at += 2003) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x5a);
    const fs::path p = write_bytes(dir, "flip.tflite", b);
    try {
      import_tflite(p);
      ++imported;
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::corrupt_data || e.code() == ErrorCode::unsupported) << at << ": " << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(refused + imported, 22);
  // A flip in the middle of the file lands in weight data: the file still verifies and imports.
  std::string b = bytes;
  b[bytes.size() / 2] = static_cast<char>(b[bytes.size() / 2] ^ 0xff);
  EXPECT_NO_THROW(import_tflite(write_bytes(dir, "middle.tflite", b)));
}

TEST(TfliteImport, NamesAnyOtherGraphByOperator) {
  // Operator 1 (the first depthwise convolution) pointed at operator 0's opcode (CONV_2D): a 3x3 convolution
  // right after the stem is no MobileNet, yet every constant input still imports as ops.<index>.<op>.<role>.
  test::TempDir dir;
  std::string b = file_bytes();
  constexpr std::size_t kOp1Opcode = 3550612;
  ASSERT_EQ(get_u32(b, kOp1Opcode), 1u);
  put_u32(b, kOp1Opcode, 0);
  const auto m = import_tflite(write_bytes(dir, "other.tflite", b));
  EXPECT_EQ(m.architecture, "unknown");
  EXPECT_NE(m.find("ops.0.conv_2d.weight"), nullptr);
  EXPECT_NE(m.find("ops.1.conv_2d.bias"), nullptr);
  EXPECT_NE(m.find("ops.63.conv_2d.weight"), nullptr);
  EXPECT_NE(m.find("ops.64.reshape.weight"), nullptr);  // the RESHAPE's constant target shape
  EXPECT_EQ(m.find("ops.0.conv_2d.weight")->shape, (Shape{32, 3, 3, 3}));
  EXPECT_EQ(m.find("stem.weight"), nullptr);
}

#define REQUIRE_CLI() \
  if (std::string(HAWKEYE_CLI).empty() || !fs::exists(HAWKEYE_CLI)) GTEST_SKIP() << "the hawkeye binary is not built"

TEST(TfliteImportCli, WritesModelSafetensorsAndRefusesToOverwriteWithoutForce) {
  REQUIRE_CLI();
  test::TempDir dir;
  const fs::path out = dir.path() / "out";
  const std::string cmd = std::string("'") + HAWKEYE_CLI + "' -q import tflite '" + qat_file().string() + "' --out '" +
                          out.string() + "'";
  auto r = test::run_command(cmd + " --json 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["architecture"], "mobilenet_v2");
  EXPECT_EQ(j["tensors"], 106);
  EXPECT_EQ(j["classes"], 1001);
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "tflite.json"));

  r = test::run_command(cmd + " 2>&1");
  EXPECT_EQ(r.status, exit_status(ErrorCode::invalid_argument)) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  r = test::run_command(cmd + " --force 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("architecture: mobilenet_v2"), std::string::npos) << r.output;

  const fs::path bad = write_bytes(dir, "bad.tflite", "not a flatbuffer at all");
  r = test::run_command(std::string("'") + HAWKEYE_CLI + "' -q import tflite '" + bad.string() + "' --out '" +
                        (dir.path() / "bad").string() + "' 2>&1");
  EXPECT_EQ(r.status, exit_status(ErrorCode::corrupt_data)) << r.output;
}
