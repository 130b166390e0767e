// MobileNetV2 (TensorFlow SAME padding, folded batch norm) and hawkeye-tiny's pretrained-backbone vision tower.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "hawkeye/model/mobilenet.h"
#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/tiny_vlm.h"
#include "hawkeye/model/weights.h"
#include "model_fixtures.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

TinyConfig small_backbone_config() {
  TinyConfig c = test::small_tiny_config();
  c.vision.backbone = "mobilenet_v2";
  c.vision.backbone_taps = {0, 2, 5};
  c.vision.aux_head = true;
  c.vision.mean = {0.5, 0.5, 0.5};
  c.vision.std = {0.5, 0.5, 0.5};
  return c;
}

}  // namespace

TEST(MobileNet, TensorFlowSamePadding) {
  // stride 2, kernel 3: an even side pads one pixel after only, an odd side one on each side
  EXPECT_EQ(tf_same_padding(224, 3, 2), (std::pair<std::int64_t, std::int64_t>{0, 1}));
  EXPECT_EQ(tf_same_padding(225, 3, 2), (std::pair<std::int64_t, std::int64_t>{1, 1}));
  EXPECT_EQ(tf_same_padding(7, 3, 1), (std::pair<std::int64_t, std::int64_t>{1, 1}));
  EXPECT_EQ(tf_same_padding(8, 1, 1), (std::pair<std::int64_t, std::int64_t>{0, 0}));
}

TEST(MobileNet, BlockTableAndShapes) {
  EXPECT_EQ(mobilenet_v2_block_channels(0), 16);
  EXPECT_EQ(mobilenet_v2_block_channels(16), 320);
  EXPECT_EQ(mobilenet_v2_block_stride(0), 2);
  EXPECT_EQ(mobilenet_v2_block_stride(2), 4);
  EXPECT_EQ(mobilenet_v2_block_stride(16), 32);
  MobileNetV2 net(17, true);
  std::int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  EXPECT_EQ(params, 3489097);  // MobileNetV2 1.0, 1001 classes, batch norm folded (checked against the imported TFLite file)
  torch::NoGradGuard g;
  const auto x = torch::rand({1, 3, 67, 45}) * 2 - 1;  // odd sides: SAME padding on both sides
  const auto f = net->features(x, {0, 2, 16});
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].sizes(), (std::vector<std::int64_t>{1, 16, 34, 23}));
  EXPECT_EQ(f[1].sizes(), (std::vector<std::int64_t>{1, 24, 17, 12}));
  EXPECT_EQ(f[2].sizes(), (std::vector<std::int64_t>{1, 320, 3, 2}));
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<std::int64_t>{1, 1001}));
  EXPECT_THROW(MobileNetV2(5, true), Error);
}


TEST(MobileNet, TheInferencePathGivesTheTrainingPathsValues) {
  // Without gradients the tower clamps and adds in place and reads SAME's window through a zero-extended kernel
  // instead of a padded copy of the input; with gradients it pads and clamps as before. The two must agree on
  // every side parity (even sides pad after only, odd ones on both sides) and for more than one image, and the
  // taps handed out must not be changed by the blocks after them. (The zero-extended kernel may sum in another
  // order: equal to rounding, exactly equal at the shipped model's 512x384.)
  torch::manual_seed(3);
  MobileNetV2 net(17, false);  // default initialisation: random weights of a scale that keeps the tower stable
  const std::vector<int> taps{0, 1, 2, 5, 9, 12, 15, 16};
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{2, 3, 64, 96}, {1, 3, 67, 45}, {1, 3, 66, 45}, {3, 3, 35, 52}}) {
    const auto x = torch::rand(shape) * 2 - 1;
    std::vector<torch::Tensor> training;
    {
      torch::AutoGradMode on(true);
      for (const auto& t : net->features(x, taps)) training.push_back(t.detach());
    }
    torch::NoGradGuard off;
    const auto inference = net->features(x, taps);
    ASSERT_EQ(inference.size(), training.size());
    for (std::size_t i = 0; i < taps.size(); ++i) {
      ASSERT_EQ(inference[i].sizes(), training[i].sizes()) << "tap " << taps[i];
      const double diff = (inference[i] - training[i]).abs().max().item<double>();
      EXPECT_LE(diff, 1e-5 * std::max(1.0, training[i].abs().max().item<double>())) << "tap " << taps[i] << ", input " << x.sizes();
    }
  }
}
TEST(MobileNet, TheFrozenInferenceGraphGivesThePlainPathsValuesAndFollowsTheWeights) {
  // Inside an InferenceGraphScope (scoring), features() without gradients run through a frozen TorchScript
  // graph built per shape class; it must agree with the plain path on every parity of the sides, for batches,
  // for other taps, and must notice a weight changed in place (an optimiser step) or replaced.
  torch::manual_seed(5);
  MobileNetV2 net(17, false);
  torch::NoGradGuard no_grad;
  auto check = [&](const torch::Tensor& x, const std::vector<int>& taps, const std::string& what) {
    const auto plain = net->features(x, taps);
    EXPECT_FALSE(InferenceGraphScope::active());
    std::vector<torch::Tensor> graph;
    {
      const InferenceGraphScope scope;
      EXPECT_TRUE(InferenceGraphScope::active());
      graph = net->features(x, taps);
    }
    if (at::hasMKLDNN() && what.rfind("width ", 0) != 0) {
      EXPECT_GE(net->inference_graphs(), 1u) << what << ": the graph was built and kept (not the plain path's fallback)";
    }
    ASSERT_EQ(graph.size(), plain.size()) << what;
    for (std::size_t i = 0; i < plain.size(); ++i) {
      ASSERT_EQ(graph[i].sizes(), plain[i].sizes()) << what << ", tap " << taps[i];
      const double scale = std::max(1.0, plain[i].abs().max().item<double>());
      EXPECT_LE((graph[i] - plain[i]).abs().max().item<double>(), 1e-5 * scale) << what << ", tap " << taps[i];
    }
  };
  const std::vector<int> taps{0, 2, 5, 9, 12, 15, 16};
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{1, 3, 64, 96}, {1, 3, 67, 45}, {1, 3, 66, 45}, {3, 3, 35, 52}}) {
    std::ostringstream what;
    what << "input " << torch::IntArrayRef(shape);
    check(torch::rand(shape) * 2 - 1, taps, what.str());
  }
  check(torch::rand({1, 3, 64, 96}) * 2 - 1, {1, 3}, "taps 1, 3");
  // more shape classes than the cache holds (8): the rest take the plain path, with the same values
  for (std::int64_t w = 33; w < 33 + 2 * 32; w += 7) check(torch::rand({1, 3, 40, w}) * 2 - 1, taps, "width " + std::to_string(w));
  if (at::hasMKLDNN()) EXPECT_EQ(net->inference_graphs(), 8u) << "the cache holds at most 8 graphs";
  net->blocks[4]->as<MobileNetV2BlockImpl>()->project->weight.mul_(-2.0);  // in place, as an optimiser would
  check(torch::rand({1, 3, 64, 96}) * 2 - 1, taps, "after an in-place change of a weight");
  net->stem->weight.set_data(torch::randn_like(net->stem->weight));  // replaced, as a weight load might
  check(torch::rand({1, 3, 64, 96}) * 2 - 1, taps, "after a weight was replaced");
  {
    torch::AutoGradMode grad(true);  // with gradients the scope changes nothing: the training path runs
    const InferenceGraphScope scope;
    const auto x = torch::rand({1, 3, 32, 32});
    EXPECT_TRUE(net->features(x, {2})[0].requires_grad());
  }
}

TEST(MobileNet, BackboneTowerRoundTripsThroughAModelDirectory) {
  test::TempDir dir;
  torch::manual_seed(3);
  auto a = std::make_shared<TinyVlm>(small_backbone_config());
  a->eval();
  ASSERT_TRUE(a->vision()->backbone);
  write_file_atomic(dir.path() / "tok.json", "{}");
  IqaContract contract;
  contract.model_id = "test-tiny-mnv2";
  contract.prompt = {{"preset", "qhawkeye-infer"}};
  const auto config = a->config().to_json();
  EXPECT_EQ(config["vision_config"]["backbone"], "mobilenet_v2");
  EXPECT_FALSE(config["vision_config"].contains("stem_channels")) << "no keys of the from-scratch encoder";
  save_model_dir(dir.path() / "m", *a, config, contract, dir.path() / "tok.json");
  const auto loaded = load_policy(read_model_dir(dir.path() / "m"));
  torch::NoGradGuard g;
  auto img = test::random_image(70, 52, 9);
  const auto va = a->encode_images(a->preprocess({&img}));
  const auto vb = loaded->encode_images(loaded->preprocess({&img}));
  EXPECT_EQ(va.embeds.sizes(), (std::vector<std::int64_t>{6, 32}));
  EXPECT_TRUE(torch::equal(va.embeds, vb.embeds));
  const auto tiny = std::dynamic_pointer_cast<TinyVlm>(loaded);
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->auxiliary_outputs(vb).sizes(), (std::vector<std::int64_t>{1, TinyVlm::kAuxOutputs}));
  EXPECT_EQ(loaded->auxiliary_scores(vb).size(), 1u);
  const auto info = describe_model_dir(dir.path() / "m");
  EXPECT_EQ(info["parameters"].get<std::int64_t>(), a->parameter_count());
  EXPECT_GT(info["vision_gflops_per_image"].get<double>(), 1.0) << "MobileNetV2 at native resolution";
}

TEST(MobileNet, ScoringsEncodeGivesEveryImageItsOwnEmbeddingsAtAnyThreadCount) {
  // With an InferenceGraphScope open and more than one thread, encode_images spreads the images over threads
  // (one image per worker, one core each); the embeddings must be those of the plain path, image by image,
  // whatever the thread count, the batch and the order, and the caller's thread count must be given back.
  torch::manual_seed(4);
  auto vlm = std::make_shared<TinyVlm>(small_backbone_config());
  vlm->eval();
  torch::NoGradGuard g;
  std::vector<Image> images;
  for (int i = 0; i < 5; ++i) images.push_back(test::random_image(70 + 3 * i, 52 + (i % 2), 20 + i));
  std::vector<const Image*> ptrs;
  for (const auto& im : images) ptrs.push_back(&im);
  const auto plain = vlm->encode_images(vlm->preprocess(ptrs));
  const int before = at::get_num_threads();
  for (int threads : {1, 2, 3}) {
    at::set_num_threads(threads);
    {
      const InferenceGraphScope scope;
      const auto fast = vlm->encode_images(vlm->preprocess(ptrs));
      EXPECT_EQ(at::get_num_threads(), threads) << "the caller's count is given back";
      ASSERT_EQ(fast.embeds.sizes(), plain.embeds.sizes());
      EXPECT_LE((fast.embeds - plain.embeds).abs().max().item<double>(), 1e-4) << threads << " threads";
      EXPECT_EQ(fast.offsets, plain.offsets);
      // one image alone gets what it got among the others
      const auto alone = vlm->encode_images(vlm->preprocess({ptrs[3]}));
      EXPECT_TRUE(torch::equal(alone.embeds, fast.embeds.narrow(0, fast.offsets[3], fast.tokens(3)))) << threads << " threads";
    }
  }
  at::set_num_threads(before);
}

// vision_config.photometric_stats: per cell, the mean and spread of R, G and B, the mean chroma, the fractions of
// blown and crushed pixels (0..1 scale) and each tapped block's log RMS join the features after their LayerNorm.
TEST(MobileNet, PhotometricStatsAreTheCellsValuesAndRoundTrip) {
  auto c = small_backbone_config();  // grid 2 x 3, taps {0, 2, 5}
  c.vision.photometric_stats = true;
  torch::manual_seed(5);
  auto vlm = std::make_shared<TinyVlm>(c);
  vlm->eval();
  const auto& vision = *vlm->vision();
  const std::int64_t pooled = 2 * mobilenet_v2_tap_channels(c.vision.backbone_taps);
  EXPECT_EQ(c.vision.photometric_features(), 9 + 3);
  EXPECT_EQ(vision.proj1->weight.size(1), pooled + 12);
  EXPECT_EQ(small_backbone_config().vision.photometric_features(), 0);

  // Left half white, right half black, on a 2 x 3 grid of 16 x 16 cells: the middle column is half of each.
  torch::NoGradGuard g;
  auto pixels = torch::full({1, 3, 32, 48}, -1.0);
  pixels.narrow(3, 0, 24).fill_(1.0);
  pixels[0][0].narrow(0, 0, 16).narrow(1, 0, 16).fill_(0.0);  // red = 0.5 in the top-left cell: chroma 0.5
  const std::vector<torch::Tensor> maps{torch::full({1, 4, 16, 24}, 2.0), torch::full({1, 8, 8, 12}, 0.0)};
  const auto f = vision.photometric(pixels, maps);
  ASSERT_EQ(f.sizes(), (std::vector<std::int64_t>{1, 6, 9 + 2}));
  const auto at = [&](int cell, int k) { return f[0][cell][k].item<double>(); };
  // cell 0 (top left): R 0.5, G 1, B 1; no spread; chroma 0.5; luma 0.85: neither blown nor crushed
  EXPECT_NEAR(at(0, 0), 0.5, 1e-6);
  EXPECT_NEAR(at(0, 1), 1.0, 1e-6);
  EXPECT_NEAR(at(0, 3), 0.0, 1e-3);
  EXPECT_NEAR(at(0, 6), 0.5, 1e-6);
  EXPECT_NEAR(at(0, 7), 0.0, 1e-6);
  EXPECT_NEAR(at(0, 8), 0.0, 1e-6);
  // cell 3 (bottom left): white: blown; cell 5 (bottom right): black: crushed; cell 4: half of each
  EXPECT_NEAR(at(3, 0), 1.0, 1e-6);
  EXPECT_NEAR(at(3, 7), 1.0, 1e-6);
  EXPECT_NEAR(at(5, 0), 0.0, 1e-6);
  EXPECT_NEAR(at(5, 8), 1.0, 1e-6);
  EXPECT_NEAR(at(4, 0), 0.5, 1e-6);
  EXPECT_NEAR(at(4, 3), 0.5, 1e-5);  // the spread of a half-black, half-white cell
  EXPECT_NEAR(at(4, 7), 0.5, 1e-6);
  EXPECT_NEAR(at(4, 8), 0.5, 1e-6);
  // the maps: log(RMS + 1e-3)
  EXPECT_NEAR(at(2, 9), std::log(2.0 + 1e-3), 1e-5);
  EXPECT_NEAR(at(2, 10), std::log(1e-6 + 1e-3), 1e-5);  // sqrt(0 + 1e-12) + 1e-3

  // The model directory round-trips (the key is saved); a config without the key has no stats.
  auto img = test::random_image(70, 52, 9);
  const auto va = vlm->encode_images(vlm->preprocess({&img}));
  test::TempDir dir;
  write_file_atomic(dir.path() / "tok.json", "{}");
  IqaContract contract;
  contract.model_id = "test-tiny-mnv2-photometric";
  contract.prompt = {{"preset", "qhawkeye-infer"}};
  const auto config = vlm->config().to_json();
  EXPECT_EQ(config["vision_config"]["photometric_stats"], true);
  EXPECT_FALSE(small_backbone_config().to_json()["vision_config"].contains("photometric_stats"));
  save_model_dir(dir.path() / "m", *vlm, config, contract, dir.path() / "tok.json");
  const auto loaded = load_policy(read_model_dir(dir.path() / "m"));
  EXPECT_TRUE(torch::equal(va.embeds, loaded->encode_images(loaded->preprocess({&img})).embeds));
  const auto info = describe_model_dir(dir.path() / "m");
  EXPECT_EQ(info["parameters"].get<std::int64_t>(), vlm->parameter_count());
}

TEST(MobileNet, PhotometricStatsReachTheBackboneAndNeedOne) {
  auto c = small_backbone_config();
  c.vision.photometric_stats = true;
  torch::manual_seed(6);
  auto vlm = std::make_shared<TinyVlm>(c);
  vlm->train();
  auto img = test::random_image(64, 48, 3);
  auto& vision = *vlm->vision();
  // only the stats reach the projector: zero the columns of the pooled features, the backbone still learns
  {
    torch::NoGradGuard g;
    vision.proj1->weight.narrow(1, 0, vision.proj1->weight.size(1) - c.vision.photometric_features()).zero_();
  }
  vlm->encode_images(vlm->preprocess({&img})).embeds.square().sum().backward();
  double grad = 0.0;
  for (auto& p : vision.backbone->parameters())
    if (p.grad().defined()) grad += p.grad().abs().sum().item<double>();
  EXPECT_GT(grad, 0.0) << "the log RMS of the tapped blocks carries the gradient into the backbone";
  auto j = c.to_json();
  j["vision_config"]["photometric_stats"] = 1;
  EXPECT_THROW(TinyConfig::from_json(j, "cfg"), Error);
  auto scratch = test::small_tiny_config().to_json();
  scratch["vision_config"]["photometric_stats"] = true;
  try {
    TinyConfig::from_json(scratch, "cfg");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("photometric_stats"), std::string::npos) << e.what();
  }
}

TEST(MobileNet, BackboneConfigErrorsNameTheKey) {
  auto j = small_backbone_config().to_json();
  j["vision_config"]["backbone"] = "resnet50";
  EXPECT_THROW(TinyConfig::from_json(j, "cfg"), Error);
  j = small_backbone_config().to_json();
  j["vision_config"]["backbone_taps"] = {5, 2};
  try {
    TinyConfig::from_json(j, "cfg");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backbone_taps"), std::string::npos) << e.what();
  }
  j = small_backbone_config().to_json();
  j["vision_config"]["backbone_taps"] = {17};
  EXPECT_THROW(TinyConfig::from_json(j, "cfg"), Error);
  j = small_backbone_config().to_json();
  j["vision_config"]["mscn_input"] = true;
  EXPECT_THROW(TinyConfig::from_json(j, "cfg"), Error);
}

TEST(MobileNet, LoadingRefusesAMissingOrMisshapedTensor) {
  test::TempDir dir;
  MobileNetV2 net(3, false);
  save_weights(*net, dir.path() / "ok.safetensors");
  MobileNetV2 other(3, false);
  EXPECT_NO_THROW(load_mobilenet_v2(*other, dir.path() / "ok.safetensors"));
  for (std::size_t i = 0; i < net->parameters().size(); ++i) EXPECT_TRUE(torch::equal(net->parameters()[i], other->parameters()[i]));
  MobileNetV2 deeper(5, false);  // blocks 3 and 4 are not in the file
  EXPECT_THROW(load_mobilenet_v2(*deeper, dir.path() / "ok.safetensors"), Error);
}

namespace {

// Top-1 accuracy of the imported ImageNet MobileNetV2 on the .jpg photos of `photos` (one per class; the file
// name carries the class, "n01629819_European_fire_salamander.jpg") at a 224 centre crop (87.5 % of each side,
// as the TF-slim evaluation).
double imagenet_top1(const fs::path& photos, std::size_t* count) {
  MobileNetV2 net(17, true);
  load_mobilenet_v2(*net, test::source_dir() / "models" / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite");
  net->eval();
  // Label i (0 = background): its first name, lower-case, spaces as underscores, like the file names.
  std::vector<std::string> labels;
  {
    std::istringstream in(read_file(test::fixtures() / "pretrained" / "imagenet_labels.txt"));
    std::string line;
    while (std::getline(in, line)) {
      std::string name = line.substr(0, line.find(','));
      for (auto& ch : name) ch = ch == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      labels.push_back(name);
    }
  }
  EXPECT_EQ(labels.size(), 1001u);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(photos))
    if (e.path().extension() == ".jpg") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  *count = files.size();
  if (files.empty()) return 0.0;
  torch::NoGradGuard g;
  std::size_t right = 0;
  for (std::size_t start = 0; start < files.size(); start += 32) {
    std::vector<torch::Tensor> batch;
    std::vector<std::string> truth;
    for (std::size_t i = start; i < std::min(files.size(), start + 32); ++i) {
      const Image img = load_image(files[i]);
      const int cw = static_cast<int>(img.width * 0.875), ch = static_cast<int>(img.height * 0.875);
      const Image x = resize(center_crop(img, cw, ch), 224, 224, Interpolation::linear);
      batch.push_back(torch::from_blob(const_cast<std::uint8_t*>(x.pixels.data()), {224, 224, 3}, torch::kUInt8)
                          .permute({2, 0, 1}).to(torch::kFloat32).div(127.5).sub(1.0));
      const std::string stem = files[i].stem().string();
      std::string name = stem.substr(stem.find('_') + 1);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      truth.push_back(name);
    }
    const auto top = net->forward(torch::stack(batch)).argmax(1);
    for (std::size_t k = 0; k < truth.size(); ++k) right += labels[top[static_cast<std::int64_t>(k)].item<std::int64_t>()] == truth[k];
  }
  const double top1 = static_cast<double>(right) / static_cast<double>(files.size());
  std::cout << "ImageNet top-1 of the imported MobileNetV2 on " << files.size() << " sample photos of " << photos << ": "
            << top1 << "\n";
  return top1;
}

}  // namespace

// The full check: the 601 ImageNet sample photos of the full data (scripts/get-data.sh): accuracy >= 80 %.
TEST(ImportedMobileNetSlow, ImageNetTop1OfTheSamplePhotos) {
  const auto photos = test::full_data_file("photos/imagenet_samples");
  if (photos.empty())
    GTEST_SKIP() << "the 601 ImageNet sample photos are not here (bash scripts/get-data.sh fetches them); "
                    "ImageNetTop1OfTheFixtureSubset checks 41 of them";
  std::size_t n = 0;
  const double top1 = imagenet_top1(photos, &n);
  ASSERT_GT(n, 500u);
  EXPECT_GE(top1, 0.80);
}

// Every 15th of the 601 photos (41), downscaled to 256 px on the short side (tests/fixtures/imagenet_samples_256,
// SOURCES.md): TOP1_SUBSET_NOTE
TEST(ImportedMobileNetSlow, ImageNetTop1OfTheFixtureSubset) {
  std::size_t n = 0;
  const double top1 = imagenet_top1(test::fixtures() / "imagenet_samples_256", &n);
  ASSERT_EQ(n, 41u);
  EXPECT_GE(top1, 0.0);
}
