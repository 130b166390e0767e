// KADID types 09-10: JPEG 2000 and JPEG round trips (spec 3.09-3.10): JPEG and the default JPEG 2000 coder through
// the codecs of Debian's OpenCV; the 9/7 JPEG 2000 coder through libopenjp2 directly (OpenCV's writer cannot be
// told to use the irreversible wavelet or an exact ratio).
#include <openjpeg.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"
#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

namespace {

cv::Mat codec_round_trip(const cv::Mat& rgb, const char* ext, const std::vector<int>& params) {
  cv::Mat bgr8;
  cv::cvtColor(to_u8(rgb), bgr8, cv::COLOR_RGB2BGR);  // the codecs expect BGR
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(ext, bgr8, buf, params)) {
    throw Error(ErrorCode::unsupported, std::string("this OpenCV build cannot encode ") + ext);
  }
  cv::Mat back = cv::imdecode(buf, cv::IMREAD_COLOR);
  if (back.empty() || back.size() != bgr8.size()) {
    throw Error(ErrorCode::internal, std::string("decoding our own ") + ext + " stream failed");
  }
  cv::cvtColor(back, back, cv::COLOR_BGR2RGB);
  return from_u8(back);
}

// ---- libopenjp2 through memory ----

// A growable byte buffer as an OpenJPEG stream (the encoder writes, skips and seeks back; the decoder reads).
struct MemoryStream {
  std::vector<std::uint8_t> bytes;
  std::size_t pos = 0;
};

OPJ_SIZE_T stream_read(void* dst, OPJ_SIZE_T n, void* user) {
  auto& m = *static_cast<MemoryStream*>(user);
  if (m.pos >= m.bytes.size()) return static_cast<OPJ_SIZE_T>(-1);  // end of stream
  const std::size_t k = std::min<std::size_t>(n, m.bytes.size() - m.pos);
  std::memcpy(dst, m.bytes.data() + m.pos, k);
  m.pos += k;
  return k;
}

OPJ_SIZE_T stream_write(void* src, OPJ_SIZE_T n, void* user) {
  auto& m = *static_cast<MemoryStream*>(user);
  try {  // nothing may throw through libopenjp2's C frames
    if (m.pos + n > m.bytes.size()) m.bytes.resize(m.pos + n);
  } catch (...) {
    return static_cast<OPJ_SIZE_T>(-1);
  }
  std::memcpy(m.bytes.data() + m.pos, src, n);
  m.pos += n;
  return n;
}

OPJ_OFF_T stream_skip(OPJ_OFF_T n, void* user) {
  auto& m = *static_cast<MemoryStream*>(user);
  if (n < 0 && static_cast<std::size_t>(-n) > m.pos) return -1;
  m.pos = static_cast<std::size_t>(static_cast<OPJ_OFF_T>(m.pos) + n);
  return n;
}

OPJ_BOOL stream_seek(OPJ_OFF_T to, void* user) {
  auto& m = *static_cast<MemoryStream*>(user);
  if (to < 0) return OPJ_FALSE;
  m.pos = static_cast<std::size_t>(to);
  return OPJ_TRUE;
}

struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};
using CodecPtr = std::unique_ptr<opj_codec_t, CodecDeleter>;
using StreamPtr = std::unique_ptr<opj_stream_t, StreamDeleter>;
using OpjImagePtr = std::unique_ptr<opj_image_t, ImageDeleter>;

// The library reports through callbacks; the first error message is kept for the exception.
void keep_error(const char* msg, void* user) {
  auto& s = *static_cast<std::string*>(user);
  if (s.empty() && msg) {
    s = msg;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  }
}
void ignore_message(const char*, void*) {}

StreamPtr memory_stream(MemoryStream& m, bool input) {
  StreamPtr s(opj_stream_create(64 * 1024, input ? OPJ_TRUE : OPJ_FALSE));
  if (!s) throw Error(ErrorCode::internal, "openjpeg: cannot create a stream");
  opj_stream_set_user_data(s.get(), &m, nullptr);
  if (input) {
    opj_stream_set_user_data_length(s.get(), m.bytes.size());
    opj_stream_set_read_function(s.get(), stream_read);
  } else {
    opj_stream_set_write_function(s.get(), stream_write);
  }
  opj_stream_set_skip_function(s.get(), stream_skip);
  opj_stream_set_seek_function(s.get(), stream_seek);
  return s;
}

// Messages kept, and one thread per codec: synth already runs one distortion per core, and OpenJPEG would
// otherwise size a pool of its own from $OPJ_NUM_THREADS for every codec.
void prepare_codec(opj_codec_t* codec, std::string& error) {
  opj_set_error_handler(codec, keep_error, &error);
  opj_set_warning_handler(codec, ignore_message, nullptr);
  opj_set_info_handler(codec, ignore_message, nullptr);
  opj_codec_set_threads(codec, 0);
}

[[noreturn]] void openjpeg_failed(const char* what, const std::string& error) {
  throw Error(ErrorCode::internal, std::string("openjpeg: ") + what + (error.empty() ? "" : ": " + error));
}

// An 8-bit RGB image (CV_8UC3) as a JPEG 2000 codestream: one quality layer at `ratio` (raw 24-bit size over
// coded size, as MATLAB's CompressionRatio), the irreversible 9/7 wavelet, the colour transform, the library's
// other defaults (6 resolutions, 64x64 code blocks, LRCP).
std::vector<std::uint8_t> encode_j2k_97(const cv::Mat& rgb8, double ratio) {
  const auto w = static_cast<OPJ_UINT32>(rgb8.cols), h = static_cast<OPJ_UINT32>(rgb8.rows);
  opj_image_cmptparm_t parts[3];
  std::memset(parts, 0, sizeof(parts));
  for (auto& p : parts) {
    p.dx = p.dy = 1;
    p.w = w;
    p.h = h;
    p.prec = 8;
    p.sgnd = 0;
  }
  OpjImagePtr image(opj_image_create(3, parts, OPJ_CLRSPC_SRGB));
  if (!image) throw Error(ErrorCode::internal, "openjpeg: cannot create an image");
  image->x0 = image->y0 = 0;
  image->x1 = w;
  image->y1 = h;
  for (int y = 0; y < rgb8.rows; ++y) {
    const auto* row = rgb8.ptr<cv::Vec3b>(y);
    for (int x = 0; x < rgb8.cols; ++x)
      for (int c = 0; c < 3; ++c) image->comps[c].data[static_cast<std::size_t>(y) * w + x] = row[x][c];
  }
  opj_cparameters_t params;
  opj_set_default_encoder_parameters(&params);
  params.tcp_numlayers = 1;
  params.tcp_rates[0] = static_cast<float>(ratio);
  params.cp_disto_alloc = 1;
  params.irreversible = 1;
  params.tcp_mct = 1;
  // The library's 6 resolutions need a side of at least 32 pixels; smaller images get as many as fit.
  while (params.numresolution > 1 && (std::min(w, h) >> (params.numresolution - 1)) == 0) --params.numresolution;
  std::string error;
  CodecPtr codec(opj_create_compress(OPJ_CODEC_J2K));
  if (!codec) throw Error(ErrorCode::internal, "openjpeg: cannot create an encoder");
  prepare_codec(codec.get(), error);
  if (!opj_setup_encoder(codec.get(), &params, image.get())) openjpeg_failed("encoder setup", error);
  MemoryStream out;
  StreamPtr stream = memory_stream(out, false);
  if (!opj_start_compress(codec.get(), image.get(), stream.get()) || !opj_encode(codec.get(), stream.get()) ||
      !opj_end_compress(codec.get(), stream.get())) {
    openjpeg_failed("encoding", error);
  }
  return std::move(out.bytes);  // opj_end_compress flushed the stream
}

// Decodes a codestream written by encode_j2k_97 back to CV_8UC3 RGB of the expected size.
cv::Mat decode_j2k(std::vector<std::uint8_t> bytes, int width, int height) {
  MemoryStream in{std::move(bytes), 0};
  StreamPtr stream = memory_stream(in, true);
  std::string error;
  CodecPtr codec(opj_create_decompress(OPJ_CODEC_J2K));
  if (!codec) throw Error(ErrorCode::internal, "openjpeg: cannot create a decoder");
  prepare_codec(codec.get(), error);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec.get(), &params)) openjpeg_failed("decoder setup", error);
  opj_image_t* raw = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw)) openjpeg_failed("reading our own header", error);
  OpjImagePtr image(raw);
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
    openjpeg_failed("decoding our own stream", error);
  }
  if (image->numcomps != 3) throw Error(ErrorCode::internal, "openjpeg: decoded stream has the wrong component count");
  for (int c = 0; c < 3; ++c) {
    const auto& comp = image->comps[c];
    if (static_cast<int>(comp.w) != width || static_cast<int>(comp.h) != height || !comp.data) {
      throw Error(ErrorCode::internal, "openjpeg: decoded stream has the wrong size");
    }
  }
  cv::Mat rgb8(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    auto* row = rgb8.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        row[x][c] = cv::saturate_cast<std::uint8_t>(image->comps[c].data[static_cast<std::size_t>(y) * width + x]);
  }
  return rgb8;
}

}  // namespace

std::size_t jpeg2000_97_coded_bytes(const cv::Mat& rgb, double ratio) { return encode_j2k_97(to_u8(rgb), ratio).size(); }

void jpeg2000_97(cv::Mat& rgb, double ratio, Rng&) {
  const cv::Mat rgb8 = to_u8(rgb);
  rgb = from_u8(decode_j2k(encode_j2k_97(rgb8, ratio), rgb8.cols, rgb8.rows));
}

int jpeg2000_x1000(double ratio) {
  // OpenCV's OpenJPEG writer takes an integer X and reaches a compression ratio of 1000 / X (measured in
  // the spec, section 5). KADID's ratios 16, 32, 45, 120, 400 need X = 62.5, 31.25, 22.2, 8.33, 2.5; the
  // halves are resolved towards more bits (X = 63 and 3), because the writer's reversible 5/3 wavelet loses
  // more at a given rate than the irreversible 9/7 wavelet of the original MATLAB encoder.
  const double x = 1000.0 / ratio;
  const double frac = x - std::floor(x);
  const int xi = frac >= 0.5 - 1e-9 ? static_cast<int>(std::ceil(x)) : static_cast<int>(std::floor(x));
  return std::clamp(xi, 1, 999);
}

void jpeg2000(cv::Mat& rgb, double ratio, Rng&) {
  rgb = codec_round_trip(rgb, ".jp2", {cv::IMWRITE_JPEG2000_COMPRESSION_X1000, jpeg2000_x1000(ratio)});
}

void jpeg(cv::Mat& rgb, double quality, Rng&) {
  rgb = codec_round_trip(rgb, ".jpg", {cv::IMWRITE_JPEG_QUALITY, static_cast<int>(std::lround(quality))});
}

}  // namespace hawkeye::kadid
