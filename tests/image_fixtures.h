// Builds image files in memory for tests (no binary fixtures): PNG of any colour type and bit depth
// (stored deflate blocks), JPEG with an EXIF orientation, truncated and hostile variants.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hawkeye::test {

inline std::uint32_t crc32(const std::string& data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

inline void put_be32(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v >> 24);
  s += static_cast<char>(v >> 16);
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v);
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
  std::string out;
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  std::string body = type + data;
  out += body;
  put_be32(out, crc32(body));
  return out;
}

// zlib stream with stored (uncompressed) deflate blocks.
inline std::string zlib_stored(const std::string& raw) {
  std::string out = "\x78\x01";
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    const bool last = pos + n >= raw.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xFF);
    out += static_cast<char>((~n >> 8) & 0xFF);
    out.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(out, (b << 16) | a);
  return out;
}

// PNG with the given colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA) and bit depth (8 or 16).
// Sample values: a gradient, so conversions can be checked.
inline std::string make_png(int width, int height, int colour_type, int bit_depth = 8) {
  const int channels = colour_type == 0 ? 1 : colour_type == 2 ? 3 : colour_type == 3 ? 1 : colour_type == 4 ? 2 : 4;
  const int bytes_per_sample = bit_depth / 8;
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int v8 = colour_type == 3 ? (x + y) % 4 : (x * 16 + y * 8 + c * 40) % 256;
        if (bytes_per_sample == 2) {
          const int v16 = v8 * 257;
          raw += static_cast<char>(v16 >> 8);
          raw += static_cast<char>(v16 & 0xFF);
        } else {
          raw += static_cast<char>(v8);
        }
      }
    }
  }
  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(colour_type);
  ihdr += std::string("\0\0\0", 3);
  std::string png = "\x89PNG\r\n\x1a\n";
  png += png_chunk("IHDR", ihdr);
  if (colour_type == 3) {
    const std::string plte("\xff\x00\x00\x00\xff\x00\x00\x00\xff\x80\x80\x80", 12);
    png += png_chunk("PLTE", plte);
  }
  png += png_chunk("IDAT", zlib_stored(raw));
  png += png_chunk("IEND", "");
  return png;
}

// A PNG whose header claims width x height but holds no pixel data (hostile header).
inline std::string make_png_header_only(std::uint32_t width, std::uint32_t height) {
  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += std::string("\x08\x02\0\0\0", 5);
  std::string png = "\x89PNG\r\n\x1a\n";
  png += png_chunk("IHDR", ihdr);
  png += png_chunk("IDAT", zlib_stored(std::string(16, '\0')));
  png += png_chunk("IEND", "");
  return png;
}

// Inserts an APP1 EXIF segment with the given orientation right after the JPEG's SOI marker.
inline std::string jpeg_with_orientation(const std::string& jpeg, int orientation) {
  std::string tiff = std::string("MM\0\x2a\0\0\0\x08", 8);
  tiff += std::string("\0\x01", 2);                                    // one IFD entry
  tiff += std::string("\x01\x12\0\x03\0\0\0\x01", 8);                  // tag 274, SHORT, count 1
  tiff += static_cast<char>(0);
  tiff += static_cast<char>(orientation);
  tiff += std::string("\0\0", 2);
  tiff += std::string("\0\0\0\0", 4);  // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const std::size_t len = payload.size() + 2;
  std::string seg = "\xFF\xE1";
  seg += static_cast<char>(len >> 8);
  seg += static_cast<char>(len & 0xFF);
  seg += payload;
  return jpeg.substr(0, 2) + seg + jpeg.substr(2);
}

}  // namespace hawkeye::test
