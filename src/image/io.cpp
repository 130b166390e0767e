#include "hawkeye/image/io.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/image/gif.h"
#include "image/cv_bridge.h"

namespace hawkeye {

namespace {

std::uint32_t be32(const unsigned char* p) { return (std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
std::uint16_t be16(const unsigned char* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint32_t le32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24); }
std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

[[noreturn]] void corrupt(std::string_view name, const std::string& what) {
  throw Error(ErrorCode::corrupt_data, std::string(name) + ": " + what);
}

struct Bytes {
  const unsigned char* p;
  std::size_t n;
};

// ---- TIFF structure (TIFF files and JPEG EXIF blocks) ----
struct TiffInfo {
  bool ok = false;
  int width = 0, height = 0, bits = 8, samples = 1, orientation = 1;
};

TiffInfo parse_tiff_ifd0(Bytes b) {
  TiffInfo info;
  if (b.n < 8) return info;
  const bool little = b.p[0] == 'I' && b.p[1] == 'I';
  const bool big = b.p[0] == 'M' && b.p[1] == 'M';
  if (!little && !big) return info;
  auto u16 = [&](std::size_t off) -> std::uint32_t { return little ? le16(b.p + off) : be16(b.p + off); };
  auto u32 = [&](std::size_t off) -> std::uint32_t { return little ? le32(b.p + off) : be32(b.p + off); };
  if (u16(2) != 42) return info;
  const std::uint32_t ifd = u32(4);
  if (ifd < 8 || ifd > b.n - 2) return info;
  const std::uint32_t count = u16(ifd);
  if (static_cast<std::uint64_t>(ifd) + 2 + 12ull * count > b.n) return info;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t e = ifd + 2 + 12 * i;
    const std::uint32_t tag = u16(e), type = u16(e + 2), n = u32(e + 4);
    // The first SHORT (3) or LONG (4) value: inline when all n values fit in 4 bytes, else at the offset the
    // entry holds (BitsPerSample of an RGB image is 3 SHORTs: "8, 8, 8" stored elsewhere).
    const std::uint32_t size = type == 3 ? 2 : type == 4 ? 4 : 0;
    std::uint32_t value = 0;
    if (size != 0 && n >= 1) {
      std::uint64_t at = e + 8;
      if (static_cast<std::uint64_t>(n) * size > 4) at = u32(e + 8);
      if (at + size <= b.n) value = size == 2 ? u16(static_cast<std::size_t>(at)) : u32(static_cast<std::size_t>(at));
    }
    switch (tag) {
      case 256: info.width = static_cast<int>(std::min<std::uint32_t>(value, INT32_MAX)); break;
      case 257: info.height = static_cast<int>(std::min<std::uint32_t>(value, INT32_MAX)); break;
      case 258: info.bits = static_cast<int>(std::min<std::uint32_t>(value, 64)); break;
      case 277: info.samples = static_cast<int>(std::min<std::uint32_t>(value, 16)); break;
      case 274: info.orientation = (value >= 1 && value <= 8) ? static_cast<int>(value) : 1; break;
      default: break;
    }
  }
  info.ok = true;
  return info;
}

ImageHeader probe_png(Bytes b, std::string_view name) {
  if (b.n < 33) corrupt(name, "truncated PNG header (" + std::to_string(b.n) + " bytes)");
  if (be32(b.p + 8) != 13 || std::memcmp(b.p + 12, "IHDR", 4) != 0) corrupt(name, "PNG does not start with an IHDR chunk");
  ImageHeader h;
  h.format = "png";
  const std::uint32_t w = be32(b.p + 16), hh = be32(b.p + 20);
  if (w == 0 || hh == 0 || w > INT32_MAX || hh > INT32_MAX) corrupt(name, "PNG header gives an invalid size");
  h.width = static_cast<int>(w);
  h.height = static_cast<int>(hh);
  h.bit_depth = b.p[24];
  switch (b.p[25]) {
    case 0: h.channels = 1; break;
    case 2: h.channels = 3; break;
    case 3: h.channels = 3; h.palette = true; break;
    case 4: h.channels = 2; break;
    case 6: h.channels = 4; break;
    default: corrupt(name, "PNG header has an invalid colour type " + std::to_string(b.p[25]));
  }
  return h;
}

// Every chunk must lie inside the data and the stream must end with IEND.
void check_png_complete(Bytes b, std::string_view name) {
  std::size_t pos = 8;
  while (pos + 8 <= b.n) {
    const std::uint64_t len = be32(b.p + pos);
    const bool iend = std::memcmp(b.p + pos + 4, "IEND", 4) == 0;
    if (pos + 12 + len > b.n) corrupt(name, "truncated PNG data: chunk at byte " + std::to_string(pos) + " runs past the end of the file");
    if (iend) return;
    pos += 12 + len;
  }
  corrupt(name, "truncated PNG data: no IEND chunk (file ends at byte " + std::to_string(b.n) + ")");
}

bool is_sof(unsigned char m) {
  return (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

ImageHeader probe_jpeg(Bytes b, std::string_view name, std::size_t* sos_pos = nullptr) {
  ImageHeader h;
  h.format = "jpeg";
  bool have_sof = false;
  std::size_t pos = 2;
  while (true) {
    while (pos < b.n && b.p[pos] != 0xFF) ++pos;  // tolerate junk between segments like libjpeg does
    while (pos < b.n && b.p[pos] == 0xFF) ++pos;
    if (pos >= b.n) corrupt(name, "truncated JPEG header: no start-of-scan marker");
    const unsigned char m = b.p[pos++];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;
    if (m == 0xD9) corrupt(name, "JPEG ends before its image data");
    if (pos + 2 > b.n) corrupt(name, "truncated JPEG header at byte " + std::to_string(pos));
    const std::size_t len = be16(b.p + pos);
    if (len < 2 || pos + len > b.n) corrupt(name, "truncated JPEG header: segment at byte " + std::to_string(pos) + " runs past the end of the file");
    const unsigned char* seg = b.p + pos + 2;
    const std::size_t seglen = len - 2;
    if (is_sof(m)) {
      if (seglen < 6) corrupt(name, "JPEG frame header too short");
      h.bit_depth = seg[0];
      h.height = be16(seg + 1);
      h.width = be16(seg + 3);
      h.channels = seg[5];
      if (h.width == 0 || h.height == 0) corrupt(name, "JPEG frame header gives an invalid size");
      if (m == 0xC3 || m == 0xC7 || m == 0xCB || m == 0xCF) {
        throw Error(ErrorCode::unsupported, std::string(name) + ": lossless JPEG is not supported");
      }
      have_sof = true;
    } else if (m == 0xE1 && seglen >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const TiffInfo t = parse_tiff_ifd0({seg + 6, seglen - 6});
      if (t.ok) h.exif_orientation = t.orientation;
    } else if (m == 0xDA) {
      if (!have_sof) corrupt(name, "JPEG scan starts before a frame header");
      if (sos_pos) *sos_pos = pos + len;
      return h;
    }
    pos += len;
  }
}

ImageHeader probe_bmp(Bytes b, std::string_view name, std::uint64_t* needed_bytes = nullptr) {
  if (b.n < 26) corrupt(name, "truncated BMP header");
  const std::uint32_t offset = le32(b.p + 10);
  const std::uint32_t dib = le32(b.p + 14);
  ImageHeader h;
  h.format = "bmp";
  std::int64_t w, hh;
  int bpp;
  std::uint32_t compression = 0;
  if (dib == 12) {
    w = le16(b.p + 18);
    hh = le16(b.p + 20);
    bpp = le16(b.p + 24);
  } else if (dib >= 40) {
    if (b.n < 34) corrupt(name, "truncated BMP header");
    w = static_cast<std::int32_t>(le32(b.p + 18));
    hh = static_cast<std::int32_t>(le32(b.p + 22));
    bpp = le16(b.p + 28);
    compression = le32(b.p + 30);
  } else {
    corrupt(name, "BMP has an unknown header size " + std::to_string(dib));
  }
  if (hh < 0) hh = -hh;
  if (w <= 0 || hh <= 0 || w > INT32_MAX || hh > INT32_MAX) corrupt(name, "BMP header gives an invalid size");
  h.width = static_cast<int>(w);
  h.height = static_cast<int>(hh);
  h.channels = bpp == 32 ? 4 : 3;
  h.palette = bpp <= 8;
  if (bpp == 8 || bpp == 1 || bpp == 4) h.channels = 3;
  if (needed_bytes && (compression == 0 || compression == 3) && bpp > 0 && bpp <= 32) {
    const std::uint64_t row = ((static_cast<std::uint64_t>(w) * bpp + 31) / 32) * 4;
    *needed_bytes = offset + row * static_cast<std::uint64_t>(hh);
  }
  return h;
}

ImageHeader probe_webp(Bytes b, std::string_view name) {
  if (b.n < 30) corrupt(name, "truncated WebP header");
  ImageHeader h;
  h.format = "webp";
  h.channels = 3;
  if (std::memcmp(b.p + 12, "VP8X", 4) == 0) {
    h.width = 1 + (b.p[24] | (b.p[25] << 8) | (b.p[26] << 16));
    h.height = 1 + (b.p[27] | (b.p[28] << 8) | (b.p[29] << 16));
    if (b.p[20] & 0x10) h.channels = 4;
  } else if (std::memcmp(b.p + 12, "VP8L", 4) == 0) {
    const std::uint32_t bits = le32(b.p + 21);
    h.width = 1 + (bits & 0x3FFF);
    h.height = 1 + ((bits >> 14) & 0x3FFF);
    h.channels = 4;
  } else if (std::memcmp(b.p + 12, "VP8 ", 4) == 0) {
    if (b.p[23] != 0x9D || b.p[24] != 0x01 || b.p[25] != 0x2A) corrupt(name, "WebP VP8 frame has no start code");
    h.width = le16(b.p + 26) & 0x3FFF;
    h.height = le16(b.p + 28) & 0x3FFF;
  } else {
    corrupt(name, "WebP has an unknown chunk type");
  }
  if (h.width == 0 || h.height == 0) corrupt(name, "WebP header gives an invalid size");
  return h;
}

ImageHeader probe_pnm(Bytes b, std::string_view name) {
  ImageHeader h;
  h.format = "pnm";
  const char kind = static_cast<char>(b.p[1]);
  h.channels = (kind == '3' || kind == '6') ? 3 : 1;
  std::size_t pos = 2;
  long long vals[3] = {0, 0, 255};
  const int need = (kind == '1' || kind == '4') ? 2 : 3;
  for (int i = 0; i < need; ++i) {
    while (pos < b.n && (std::isspace(b.p[pos]) || b.p[pos] == '#')) {
      if (b.p[pos] == '#') while (pos < b.n && b.p[pos] != '\n') ++pos;
      else ++pos;
    }
    if (pos >= b.n || !std::isdigit(b.p[pos])) corrupt(name, "truncated PNM header");
    long long v = 0;
    while (pos < b.n && std::isdigit(b.p[pos])) {
      v = v * 10 + (b.p[pos++] - '0');
      if (v > INT32_MAX) corrupt(name, "PNM header gives an invalid size");
    }
    vals[i] = v;
  }
  if (vals[0] <= 0 || vals[1] <= 0 || vals[2] <= 0 || vals[2] > 65535) corrupt(name, "PNM header gives an invalid size");
  h.width = static_cast<int>(vals[0]);
  h.height = static_cast<int>(vals[1]);
  h.bit_depth = vals[2] > 255 ? 16 : 8;
  return h;
}

void apply_orientation(cv::Mat& m, int orientation) {
  switch (orientation) {
    case 2: cv::flip(m, m, 1); break;
    case 3: cv::rotate(m, m, cv::ROTATE_180); break;
    case 4: cv::flip(m, m, 0); break;
    case 5: cv::transpose(m, m); break;
    case 6: cv::rotate(m, m, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(m, m); cv::rotate(m, m, cv::ROTATE_180); break;
    case 8: cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: break;
  }
}

void quiet_opencv() {
  static const bool done = [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)done;
}

}  // namespace

ImageHeader probe_image(std::string_view bytes) {
  const Bytes b{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()};
  const std::string_view name = "<image>";
  if (b.n == 0) corrupt(name, "empty data");
  if (b.n >= 8 && std::memcmp(b.p, "\x89PNG\r\n\x1a\n", 8) == 0) return probe_png(b, name);
  if (b.n >= 3 && b.p[0] == 0xFF && b.p[1] == 0xD8 && b.p[2] == 0xFF) return probe_jpeg(b, name);
  if (b.n >= 2 && b.p[0] == 'B' && b.p[1] == 'M') return probe_bmp(b, name);
  if (b.n >= 12 && std::memcmp(b.p, "RIFF", 4) == 0 && std::memcmp(b.p + 8, "WEBP", 4) == 0) return probe_webp(b, name);
  if (b.n >= 6 && (std::memcmp(b.p, "GIF87a", 6) == 0 || std::memcmp(b.p, "GIF89a", 6) == 0)) {
    if (b.n < 10) corrupt(name, "truncated GIF header");
    ImageHeader h;
    h.format = "gif";
    h.width = le16(b.p + 6);
    h.height = le16(b.p + 8);
    h.channels = 3;
    h.palette = true;
    return h;
  }
  if (b.n >= 8 && ((b.p[0] == 'I' && b.p[1] == 'I' && b.p[2] == 42 && b.p[3] == 0) ||
                   (b.p[0] == 'M' && b.p[1] == 'M' && b.p[2] == 0 && b.p[3] == 42))) {
    const TiffInfo t = parse_tiff_ifd0(b);
    if (!t.ok || t.width <= 0 || t.height <= 0) corrupt(name, "TIFF header is truncated or has no size");
    ImageHeader h;
    h.format = "tiff";
    h.width = t.width;
    h.height = t.height;
    h.channels = t.samples;
    h.bit_depth = t.bits;
    return h;
  }
  if (b.n >= 3 && b.p[0] == 'P' && b.p[1] >= '1' && b.p[1] <= '6' && std::isspace(b.p[2])) return probe_pnm(b, name);
  throw Error(ErrorCode::unsupported,
              "not an image in a supported format (PNG, JPEG, BMP, WebP, TIFF, PNM): unknown signature");
}

void check_image_size(int width, int height, std::string_view format, const ImageLimits& limits, std::string_view name) {
  const std::string what = std::string(name) + ": " + std::to_string(width) + "x" + std::to_string(height) + " " + std::string(format);
  if (width > limits.max_side || height > limits.max_side ||
      static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height) > limits.max_pixels) {
    throw Error(ErrorCode::limit_exceeded, what + " exceeds the limit of " + std::to_string(limits.max_pixels) + " pixels / " +
                                               std::to_string(limits.max_side) + " per side");
  }
  if (limits.max_aspect_ratio > 0 &&
      static_cast<double>(std::max(width, height)) > limits.max_aspect_ratio * std::max(1, std::min(width, height))) {
    throw Error(ErrorCode::limit_exceeded, what + " is more elongated than the limit of " +
                                               std::to_string(static_cast<long long>(limits.max_aspect_ratio)) + ":1");
  }
}

Image decode_image(std::string_view bytes, const ImageLimits& limits, std::string_view name) {
  quiet_opencv();
  const Bytes b{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()};
  if (b.n == 0) corrupt(name, "empty file");
  if (b.n > limits.max_file_bytes) {
    throw Error(ErrorCode::limit_exceeded, std::string(name) + ": " + std::to_string(b.n) +
                                               " bytes is more than the limit of " + std::to_string(limits.max_file_bytes));
  }
  ImageHeader h;
  try {
    h = probe_image(bytes);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("<image>: ", 0) == 0) msg = msg.substr(9);
    throw Error(e.code(), std::string(name) + ": " + msg);
  }
  check_image_size(h.width, h.height, h.format, limits, name);
  if (h.format == "gif") return decode_gif(bytes, name);  // OpenCV 4.6 has no GIF decoder
  if (h.format == "png") check_png_complete(b, name);
  int flags = cv::IMREAD_UNCHANGED;
  if (h.format == "jpeg") {
    std::size_t sos = 0;
    probe_jpeg(b, name, &sos);
    bool eoi = false;
    for (std::size_t i = sos; i + 1 < b.n; ++i) {
      if (b.p[i] == 0xFF && b.p[i + 1] == 0xD9) {
        eoi = true;
        break;
      }
    }
    if (!eoi) corrupt(name, "truncated JPEG data: no end-of-image marker after byte " + std::to_string(sos));
    flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  }
  if (h.format == "bmp") {
    std::uint64_t needed = 0;
    probe_bmp(b, name, &needed);
    if (needed > b.n) {
      corrupt(name, "truncated BMP data: " + std::to_string(b.n) + " of " + std::to_string(needed) + " bytes");
    }
  }
  // cv::imdecode takes the first of its decoders whose signature check passes (OpenCV 4.6: BMP, HDR, JPEG, WebP,
  // Sun raster, PNM/PAM, PFM, TIFF, PNG, …, DICOM last). DICOM's check looks for "DICM" at bytes 128-131, the others
  // at the first bytes; a WebP whose header libwebp rejects (its check decodes the header) falls through to
  // GDCM, which aborts the process on malformed data (an assertion; found by fuzz/fuzz_image_decoder). hawkeye
  // reads no DICOM: such data is refused. Conservatively for every format whose check is more than fixed magic
  // bytes or that hawkeye's probe reads more loosely than OpenCV (all but BMP, JPEG and PNG).
  const bool dicom_signature = b.n >= 132 && std::memcmp(b.p + 128, "DICM", 4) == 0;
  const bool decoded_before_dicom = h.format == "bmp" || h.format == "jpeg" || h.format == "png";  // plain magic
  if (dicom_signature && !decoded_before_dicom) {
    corrupt(name, "the " + h.format + " data carries a DICOM signature (\"DICM\" at byte 128), which OpenCV would hand to "
                  "its DICOM reader; hawkeye reads no DICOM");
  }
  cv::Mat m;
  try {
    const cv::Mat buf(1, static_cast<int>(std::min<std::size_t>(b.n, INT32_MAX)), CV_8UC1, const_cast<unsigned char*>(b.p));
    m = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    corrupt(name, "cannot decode " + h.format + ": " + e.msg);
  }
  if (m.empty()) corrupt(name, "cannot decode " + h.format + " data (corrupt or truncated)");
  // The limits were checked on the size read from the header above; a decoder that reads another size (an
  // ambiguous header, e.g. a PNM comment that starts inside a number; found by fuzz/fuzz_image_decoder) would
  // slip past them, so the two must agree (JPEG: either way round, as EXIF orientation may be counted).
  const bool same = m.cols == h.width && m.rows == h.height;
  const bool turned = h.format == "jpeg" && m.cols == h.height && m.rows == h.width;
  if (!same && !turned) {
    corrupt(name, "ambiguous " + h.format + " header: it reads as " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                      " but decodes as " + std::to_string(m.cols) + "x" + std::to_string(m.rows));
  }
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
  else if (m.depth() == CV_32F) m.convertTo(m, CV_8U, 255.0);
  else if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
  cv::Mat rgb;
  switch (m.channels()) {
    case 1: cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB); break;
    case 2: {
      cv::Mat grey;
      cv::extractChannel(m, grey, 0);
      cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3: cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(m, rgb, cv::COLOR_BGRA2RGB); break;
    default: throw Error(ErrorCode::unsupported, std::string(name) + ": " + std::to_string(m.channels()) + " channels");
  }
  if (h.format == "jpeg") apply_orientation(rgb, h.exif_orientation);
  return from_mat(rgb);
}

Image load_image(const std::filesystem::path& path, const ImageLimits& limits) {
  const std::string data = read_file(path, limits.max_file_bytes);
  return decode_image(data, limits, path.string());
}

std::string encode_image(const Image& image, std::string_view format, int jpeg_quality) {
  quiet_opencv();
  require(!image.empty(), ErrorCode::invalid_argument, "cannot encode an empty image");
  require(image.channels == 1 || image.channels == 3, ErrorCode::invalid_argument, "can only encode grey or RGB images");
  cv::Mat bgr;
  if (image.channels == 3) cv::cvtColor(as_mat(image), bgr, cv::COLOR_RGB2BGR);
  else bgr = as_mat(image);
  std::vector<int> params;
  std::string ext;
  if (format == "png") ext = ".png";
  else if (format == "jpeg" || format == "jpg") {
    ext = ".jpg";
    require(jpeg_quality >= 0 && jpeg_quality <= 100, ErrorCode::invalid_argument, "JPEG quality must be 0..100");
    params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  } else if (format == "bmp") ext = ".bmp";
  else throw Error(ErrorCode::unsupported, "cannot encode images as '" + std::string(format) + "' (use png, jpeg or bmp)");
  std::vector<unsigned char> buf;
  if (!cv::imencode(ext, bgr, buf, params)) throw Error(ErrorCode::io, "encoding " + std::string(format) + " failed");
  return std::string(buf.begin(), buf.end());
}

static std::string lower_ext(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

void save_image(const std::filesystem::path& path, const Image& image, int jpeg_quality) {
  const std::string ext = lower_ext(path);
  std::string format;
  if (ext == ".png") format = "png";
  else if (ext == ".jpg" || ext == ".jpeg") format = "jpeg";
  else if (ext == ".bmp") format = "bmp";
  else throw Error(ErrorCode::unsupported, path.string() + ": unknown image extension (use .png, .jpg or .bmp)");
  write_file_atomic(path, encode_image(image, format, jpeg_quality));
}

bool has_image_extension(const std::filesystem::path& path) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pnm", ".ppm", ".pgm", ".gif"};
  const std::string ext = lower_ext(path);
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

bool is_image_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  if (has_image_extension(path)) return true;
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  if (head.empty()) return false;
  try {
    probe_image(head);
    return true;
  } catch (const Error& e) {
    return e.code() == ErrorCode::corrupt_data;  // a known signature whose header goes on past these bytes
  }
}

}  // namespace hawkeye
