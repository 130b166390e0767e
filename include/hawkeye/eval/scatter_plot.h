// A scatter plot of predictions against opinion scores, drawn with cairo into a PNG: one colour per group
// (distortion type) with a legend, an optional fitted curve, axis labels, ticks and a title.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hawkeye::eval {

struct ScatterPoint {
  double x = 0, y = 0;
  int group = 0;  // index into ScatterPlot::groups
};

struct ScatterPlot {
  std::string title;
  std::string x_label, y_label;
  std::vector<std::string> groups;  // legend entries; one group named "" draws no legend
  std::vector<ScatterPoint> points; // non-finite points are skipped
  std::function<double(double)> curve;  // drawn over the x range when set (e.g. the fitted logistic)
  std::string curve_label;
  double x_min = 1, x_max = 5, y_min = 1, y_max = 5;  // axis ranges (points outside are clipped)
};

// The plot as PNG bytes. Errors: invalid_argument (size below 200x150 or above 8192x8192, empty axis range),
// internal (cairo failed).
std::string render_scatter_png(const ScatterPlot& plot, int width, int height);

// Writes render_scatter_png atomically.
void write_scatter_png(const std::filesystem::path& path, const ScatterPlot& plot, int width, int height);

// The colour of group i (a qualitative palette: Tableau 10, then 15 more distinct hues for KADID's 25 types).
void group_colour(int i, double rgb[3]);

}  // namespace hawkeye::eval
