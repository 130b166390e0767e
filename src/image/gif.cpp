#include "hawkeye/image/gif.h"

#include <array>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"

namespace hawkeye {

namespace {

class Cursor {
 public:
  Cursor(std::string_view b, std::string_view name) : b_(b), name_(name) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::corrupt_data, std::string(name_) + ": " + what + " (at byte " + std::to_string(pos_) + ")");
  }
  std::uint8_t u8() {
    if (pos_ >= b_.size()) fail("truncated GIF data");
    return static_cast<std::uint8_t>(b_[pos_++]);
  }
  std::uint16_t u16() {
    const std::uint16_t lo = u8();
    return static_cast<std::uint16_t>(lo | (u8() << 8));
  }
  std::string_view take(std::size_t n) {
    if (b_.size() - pos_ < n) fail("truncated GIF data");
    const std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // Concatenated data sub-blocks up to the zero-length terminator.
  std::string sub_blocks() {
    std::string out;
    for (std::uint8_t n = u8(); n != 0; n = u8()) out.append(take(n));
    return out;
  }
  void skip_sub_blocks() {
    for (std::uint8_t n = u8(); n != 0; n = u8()) take(n);
  }

 private:
  std::string_view b_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

using Palette = std::vector<std::array<std::uint8_t, 3>>;

Palette read_palette(Cursor& c, int size) {
  Palette p(static_cast<std::size_t>(size));
  for (auto& e : p) {
    const std::string_view rgb = c.take(3);
    e = {static_cast<std::uint8_t>(rgb[0]), static_cast<std::uint8_t>(rgb[1]), static_cast<std::uint8_t>(rgb[2])};
  }
  return p;
}

// LZW decoding of `data` into `out` (expected.size() indices). Returns the number of indices written.
std::size_t lzw_decode(const std::string& data, int min_code_size, std::vector<std::uint8_t>& out, const Cursor& c) {
  if (min_code_size < 2 || min_code_size > 8) c.fail("LZW minimum code size " + std::to_string(min_code_size) + " is not 2..8");
  const int clear = 1 << min_code_size, end = clear + 1;
  std::array<std::uint16_t, 4096> prefix{};
  std::array<std::uint8_t, 4096> suffix{}, first{};  // last and first palette index of each string
  std::array<std::uint8_t, 4097> stack{};
  for (int i = 0; i < clear; ++i) {
    suffix[static_cast<std::size_t>(i)] = first[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  }
  int size = min_code_size + 1, next = end + 1, prev = -1;
  std::uint32_t bits = 0;
  int nbits = 0;
  std::size_t written = 0, byte = 0;
  while (written < out.size()) {
    while (nbits < size && byte < data.size()) {
      bits |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[byte++])) << nbits;
      nbits += 8;
    }
    if (nbits < size) break;  // data exhausted
    const int code = static_cast<int>(bits & ((1u << size) - 1));
    bits >>= size;
    nbits -= size;
    if (code == clear) {
      size = min_code_size + 1;
      next = end + 1;
      prev = -1;
      continue;
    }
    if (code == end) break;
    int emit;
    std::size_t depth = 0;
    if (prev < 0) {
      if (code >= clear) c.fail("LZW stream starts with code " + std::to_string(code) + ", not a palette index");
      emit = code;
    } else if (code < next) {
      emit = code;
    } else if (code == next && next < 4096) {  // the KwKwK case: prev + first(prev)
      stack[depth++] = first[static_cast<std::size_t>(prev)];
      emit = prev;
    } else {
      c.fail("invalid LZW code " + std::to_string(code) + " (next free code is " + std::to_string(next) + ")");
    }
    // Walk the dictionary chain back to its root (a palette index); the stack reverses it.
    int k = emit;
    while (k > end) {
      stack[depth++] = suffix[static_cast<std::size_t>(k)];
      k = prefix[static_cast<std::size_t>(k)];
      if (depth + 1 >= stack.size()) c.fail("LZW chain too long");
    }
    const auto head = static_cast<std::uint8_t>(k);
    stack[depth++] = head;
    while (depth > 0 && written < out.size()) out[written++] = stack[--depth];
    if (prev >= 0 && next < 4096) {
      prefix[static_cast<std::size_t>(next)] = static_cast<std::uint16_t>(prev);
      suffix[static_cast<std::size_t>(next)] = head;
      first[static_cast<std::size_t>(next)] = first[static_cast<std::size_t>(prev)];
      ++next;
      if (next == (1 << size) && size < 12) ++size;
    }
    prev = code;
  }
  return written;
}

}  // namespace

Image decode_gif(std::string_view bytes, std::string_view name) {
  Cursor c(bytes, name);
  const std::string_view sig = c.take(6);
  if (sig != "GIF87a" && sig != "GIF89a") {
    throw Error(ErrorCode::unsupported, std::string(name) + ": not a GIF (no GIF87a/GIF89a signature)");
  }
  const int width = c.u16(), height = c.u16();
  const std::uint8_t flags = c.u8();
  const std::uint8_t background = c.u8();
  c.u8();  // pixel aspect ratio
  if (width == 0 || height == 0) c.fail("GIF screen has a zero size");
  Palette global;
  if (flags & 0x80) global = read_palette(c, 2 << (flags & 7));
  std::array<std::uint8_t, 3> bg{0, 0, 0};
  if (background < global.size()) bg = global[background];
  Image img(width, height, 3);
  for (std::size_t i = 0; i < img.pixels.size(); i += 3) std::copy(bg.begin(), bg.end(), img.pixels.begin() + static_cast<std::ptrdiff_t>(i));
  int transparent = -1;
  while (true) {
    const std::uint8_t block = c.u8();
    if (block == 0x3B) c.fail("GIF ends without an image");
    if (block == 0x21) {
      const std::uint8_t label = c.u8();
      if (label == 0xF9) {  // graphic control: transparency applies to the next image
        const std::string gce = c.sub_blocks();
        if (gce.size() >= 4 && (gce[0] & 1)) transparent = static_cast<std::uint8_t>(gce[3]);
      } else {
        c.skip_sub_blocks();
      }
      continue;
    }
    if (block != 0x2C) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(block));
      c.fail(std::string("unknown GIF block ") + hex);
    }
    const int left = c.u16(), top = c.u16(), fw = c.u16(), fh = c.u16();
    const std::uint8_t iflags = c.u8();
    if (fw == 0 || fh == 0) c.fail("GIF frame has a zero size");
    const Palette local = (iflags & 0x80) ? read_palette(c, 2 << (iflags & 7)) : Palette{};
    const Palette& pal = local.empty() ? global : local;
    if (pal.empty()) c.fail("GIF frame has no palette");
    const int min_code = c.u8();
    const std::string data = c.sub_blocks();
    // The frame is decoded whole but drawn clipped to the screen; its size is bounded by 65535^2 indices,
    // so refuse frames far larger than the screen instead of allocating for them.
    if (static_cast<std::uint64_t>(fw) * fh > 4ull * width * height + 4096) {
      c.fail("GIF frame " + std::to_string(fw) + "x" + std::to_string(fh) + " is far larger than its screen");
    }
    std::vector<std::uint8_t> idx(static_cast<std::size_t>(fw) * fh);
    const std::size_t got = lzw_decode(data, min_code, idx, c);
    if (got < idx.size()) {
      throw Error(ErrorCode::corrupt_data, std::string(name) + ": truncated GIF data: " + std::to_string(got) + " of " +
                                               std::to_string(idx.size()) + " pixels decoded");
    }
    // Interlaced frames store rows in 4 passes: 0, 8, 16.. then 4, 12.. then 2, 6.. then 1, 3..
    std::vector<int> row_of(static_cast<std::size_t>(fh));
    if (iflags & 0x40) {
      int r = 0;
      for (const auto& [start, step] : {std::pair{0, 8}, std::pair{4, 8}, std::pair{2, 4}, std::pair{1, 2}}) {
        for (int y = start; y < fh; y += step) row_of[static_cast<std::size_t>(r++)] = y;
      }
    } else {
      for (int y = 0; y < fh; ++y) row_of[static_cast<std::size_t>(y)] = y;
    }
    for (int r = 0; r < fh; ++r) {
      const int y = top + row_of[static_cast<std::size_t>(r)];
      if (y >= height) continue;
      for (int x = 0; x < fw && left + x < width; ++x) {
        const std::uint8_t i = idx[static_cast<std::size_t>(r) * fw + x];
        if (i == transparent) continue;
        if (i >= pal.size()) c.fail("GIF pixel uses colour " + std::to_string(i) + " of a " + std::to_string(pal.size()) + "-colour palette");
        std::copy(pal[i].begin(), pal[i].end(), &img.at(left + x, y, 0));
      }
    }
    return img;
  }
}

}  // namespace hawkeye
