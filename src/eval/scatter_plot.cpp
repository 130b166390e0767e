#include "hawkeye/eval/scatter_plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"

namespace hawkeye::eval {

namespace {

// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals.
double tick_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

std::string tick_text(double v, double step) {
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), std::abs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

struct Cairo {
  cairo_surface_t* surface = nullptr;
  cairo_t* cr = nullptr;
  ~Cairo() {
    if (cr) cairo_destroy(cr);
    if (surface) cairo_surface_destroy(surface);
  }
};

void text_at(cairo_t* cr, const std::string& s, double x, double y, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - e.x_bearing - e.width * align_x, y - e.y_bearing - e.height * align_y);
  cairo_show_text(cr, s.c_str());
}

cairo_status_t append_png(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

void group_colour(int i, double rgb[3]) {
  // Tableau 10, then 15 further hues spread by the golden angle at two lightness levels.
  static const unsigned tableau[10] = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                       0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
  if (i >= 0 && i < 10) {
    rgb[0] = ((tableau[i] >> 16) & 0xFF) / 255.0;
    rgb[1] = ((tableau[i] >> 8) & 0xFF) / 255.0;
    rgb[2] = (tableau[i] & 0xFF) / 255.0;
    return;
  }
  const double h = std::fmod((i - 10) * 137.508 + 15.0, 360.0) / 60.0;
  const double l = (i % 2) ? 0.38 : 0.55, s = 0.75;
  const double c = (1 - std::abs(2 * l - 1)) * s, x = c * (1 - std::abs(std::fmod(h, 2.0) - 1)), m = l - c / 2;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h) % 6) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
  }
  rgb[0] = r + m, rgb[1] = g + m, rgb[2] = b + m;
}

std::string render_scatter_png(const ScatterPlot& p, int width, int height) {
  if (width < 200 || height < 150 || width > 8192 || height > 8192) {
    throw Error(ErrorCode::invalid_argument, "scatter plot size " + std::to_string(width) + "x" + std::to_string(height) +
                                                 " is outside 200x150 .. 8192x8192");
  }
  if (!(p.x_max > p.x_min) || !(p.y_max > p.y_min) || !std::isfinite(p.x_max - p.x_min) || !std::isfinite(p.y_max - p.y_min)) {
    throw Error(ErrorCode::invalid_argument, "scatter plot: empty or non-finite axis range");
  }
  Cairo c;
  c.surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
  c.cr = cairo_create(c.surface);
  cairo_t* cr = c.cr;
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) throw Error(ErrorCode::internal, "cairo: cannot create a drawing surface");

  const bool legend = !p.groups.empty() && !(p.groups.size() == 1 && p.groups[0].empty());
  const double font = std::clamp(height / 48.0, 10.0, 28.0);
  const double left = font * 5.0, bottom = font * 4.2, top = font * 3.6;
  const bool side = legend || (p.curve && !p.curve_label.empty());  // a legend column on the right
  const double right = side ? std::min(width * 0.3, font * 16.0) : font * 2.0;
  const double x0 = left, x1 = width - right, y0 = top, y1 = height - bottom;  // plot area (y grows downwards)
  auto px = [&](double x) { return x0 + (x - p.x_min) / (p.x_max - p.x_min) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - p.y_min) / (p.y_max - p.y_min) * (y1 - y0); };

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Grid and ticks.
  cairo_set_font_size(cr, font);
  cairo_set_line_width(cr, 1.0);
  const double xs = tick_step(p.x_max - p.x_min, 8), ys = tick_step(p.y_max - p.y_min, 8);
  for (double v = std::ceil(p.x_min / xs - 1e-9) * xs; v <= p.x_max + xs * 1e-9; v += xs) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, std::round(px(v)) + 0.5, y0);
    cairo_line_to(cr, std::round(px(v)) + 0.5, y1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, std::round(px(v)) + 0.5, y1);
    cairo_line_to(cr, std::round(px(v)) + 0.5, y1 + font * 0.4);
    cairo_stroke(cr);
    text_at(cr, tick_text(v, xs), px(v), y1 + font * 0.7, 0.5, 0.0);
  }
  for (double v = std::ceil(p.y_min / ys - 1e-9) * ys; v <= p.y_max + ys * 1e-9; v += ys) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x0, std::round(py(v)) + 0.5);
    cairo_line_to(cr, x1, std::round(py(v)) + 0.5);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, x0 - font * 0.4, std::round(py(v)) + 0.5);
    cairo_line_to(cr, x0, std::round(py(v)) + 0.5);
    cairo_stroke(cr);
    text_at(cr, tick_text(v, ys), x0 - font * 0.7, py(v), 1.0, 0.5);
  }

  // Points (clipped to the plot area), then the curve on top.
  cairo_save(cr);
  cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
  cairo_clip(cr);
  const double radius = std::clamp(std::min(width, height) / 160.0, 2.0, 10.0);
  for (const auto& pt : p.points) {
    if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) continue;
    double rgb[3];
    group_colour(pt.group, rgb);
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.75);
    cairo_new_sub_path(cr);
    cairo_arc(cr, px(pt.x), py(pt.y), radius, 0, 2 * M_PI);
    cairo_fill(cr);
  }
  if (p.curve) {
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_set_line_width(cr, std::max(1.5, font / 6.0));
    bool open = false;
    for (int i = 0; i <= 400; ++i) {
      const double x = p.x_min + (p.x_max - p.x_min) * i / 400.0;
      const double y = p.curve(x);
      if (!std::isfinite(y)) {
        open = false;
        continue;
      }
      if (open) cairo_line_to(cr, px(x), py(std::clamp(y, p.y_min - (p.y_max - p.y_min), p.y_max + (p.y_max - p.y_min))));
      else cairo_move_to(cr, px(x), py(std::clamp(y, p.y_min - (p.y_max - p.y_min), p.y_max + (p.y_max - p.y_min))));
      open = true;
    }
    cairo_stroke(cr);
  }
  cairo_restore(cr);

  // Frame, labels, title.
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
  cairo_stroke(cr);
  cairo_set_font_size(cr, font * 1.1);
  text_at(cr, p.x_label, (x0 + x1) / 2, height - font * 1.1, 0.5, 1.0);
  cairo_save(cr);
  cairo_translate(cr, font * 1.2, (y0 + y1) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text_at(cr, p.y_label, 0, 0, 0.5, 0.5);
  cairo_restore(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, font * 1.25);
  text_at(cr, p.title, width / 2.0, font * 1.2, 0.5, 0.5);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Legend: one row per group (and the curve), font shrunk to fit the height.
  if (side) {
    const std::size_t rows = (legend ? p.groups.size() : 0) + (p.curve ? 1 : 0);
    const double lf = std::min(font, (y1 - y0) / (rows * 1.5));
    cairo_set_font_size(cr, lf);
    const double lx = x1 + font, lw = width - lx - font * 0.5;
    double ly = y0 + lf;
    if (legend) {
      for (std::size_t g = 0; g < p.groups.size(); ++g, ly += lf * 1.5) {
        double rgb[3];
        group_colour(static_cast<int>(g), rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_arc(cr, lx + lf * 0.4, ly, lf * 0.4, 0, 2 * M_PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        std::string name = p.groups[g].empty() ? "(none)" : p.groups[g];
        cairo_text_extents_t e;
        cairo_text_extents(cr, name.c_str(), &e);
        while (name.size() > 4 && e.x_advance > lw - lf * 1.4) {  // cut long names to the legend width
          name = name.substr(0, name.size() - 4) + "...";
          cairo_text_extents(cr, name.c_str(), &e);
        }
        text_at(cr, name, lx + lf * 1.2, ly, 0.0, 0.5);
      }
    }
    if (p.curve && !p.curve_label.empty()) {
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      cairo_set_line_width(cr, std::max(1.5, font / 6.0));
      cairo_move_to(cr, lx, ly);
      cairo_line_to(cr, lx + lf * 0.9, ly);
      cairo_stroke(cr);
      text_at(cr, p.curve_label, lx + lf * 1.2, ly, 0.0, 0.5);
    }
  }

  cairo_surface_flush(c.surface);
  std::string png;
  if (cairo_surface_write_to_png_stream(c.surface, append_png, &png) != CAIRO_STATUS_SUCCESS) {
    throw Error(ErrorCode::internal, "cairo: PNG encoding failed");
  }
  return png;
}

void write_scatter_png(const std::filesystem::path& path, const ScatterPlot& plot, int width, int height) {
  write_file_atomic(path, render_scatter_png(plot, width, height));
}

}  // namespace hawkeye::eval
