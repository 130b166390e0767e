// A small, defensive GIF decoder (OpenCV 4.6 has none): the first frame of a GIF87a/GIF89a file, drawn
// on its logical screen, as 8-bit RGB. Pixels the frame leaves uncovered or marks transparent take the
// background colour of the global palette (black without one). Every length is checked before use and
// the LZW stream is validated code by code; nothing beyond the screen size is allocated.
#pragma once
#include <string_view>

#include "hawkeye/image/image.h"

namespace hawkeye {

// `name` is used in error messages. Errors: corrupt_data (truncated or invalid data, naming the byte
// offset or the pixel count reached), unsupported (not a GIF). The caller checks the screen size
// against its limits first (decode_image does).
Image decode_gif(std::string_view bytes, std::string_view name = "<memory>");

}  // namespace hawkeye
