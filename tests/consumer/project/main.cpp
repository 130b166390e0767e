// A downstream program built against an installed hawkeye.
#include <hawkeye/core/random.h>
#include <hawkeye/core/version.h>
#include <hawkeye/image/io.h>

#include <iostream>
#ifdef CONSUMER_WITH_TORCH
#include <hawkeye/model/runtime.h>
#endif

int main() {
  hawkeye::Image img(4, 3, 3, 128);
  const std::string png = hawkeye::encode_image(img, "png");
  const hawkeye::Image back = hawkeye::decode_image(png);
  if (!(back == img)) return 1;
  std::cout << "hawkeye " << hawkeye::version() << " seed " << hawkeye::derive_seed(1, "x") % 1000;
#ifdef CONSUMER_WITH_TORCH
  std::cout << " torch " << hawkeye::torch_version();
#endif
  std::cout << "\n";
  return 0;
}
