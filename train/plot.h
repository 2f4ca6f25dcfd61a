#pragma once
// Line plots as PNG files, for training curves (loss against step, accuracy against
// sequence length, ...), drawn without any plotting library: a white RGB canvas, a framed
// plot area with light grid lines at "nice" round tick values (1, 2 or 5 times a power of
// ten), tick labels, axis labels, a title, a legend, and one anti-aliased line per series.
//
// Text uses stb_easy_font (a tiny segment font made of rectangles, so no font file is
// needed); the PNG is encoded by stb_image_write and written atomically (io/atomic_file.h).
//
// Data handling:
//   * Points whose x or y is NaN or infinite are skipped, and so are points with y <= 0 on a
//     log-y plot; the line is broken there rather than drawn across the gap.
//   * The axis ranges cover every drawn point, widened out to the nearest ticks. An empty
//     series (it still gets a legend entry) gives the range [0, 1] ([1, 10] on a log axis);
//     all-equal values v give [v - |v|/2, v + |v|/2] ([-0.5, 0.5] for v = 0; one decade on
//     either side on a log axis), so nothing is ever divided by a zero span.
//   * Series i gets colour series_color(i) from a fixed palette of ten distinguishable
//     colours (matplotlib's "tab10"), repeating after ten.
//
// Errors (hqlt::Error): no series at all, a series whose x and y differ in length, a canvas
// smaller than 200 x 150, or a path that cannot be written (the message names the path).
#include <cstdint>
#include <string>
#include <vector>

namespace hqlt::train {

struct Series {
  std::string label;
  std::vector<double> x, y;  // equal lengths; x need not be sorted (points are joined in order)
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_y = false;
  std::vector<Series> series;
  int width = 800, height = 500;  // pixels
};

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// The colour of the series with this index.
Rgb series_color(size_t index);

// Where the data lands on the canvas: the plot area (pixel rows grow downwards), the axis
// ranges (for a log-y plot, y_min/y_max are log10 of the values) and the tick positions
// (in the same units as the ranges).
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;  // the plot area's edges, in pixels
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_y = false;
  std::vector<double> x_ticks, y_ticks;

  // The pixel centre for a data value (y given as the value itself, not its log).
  double pixel_x(double x) const;
  double pixel_y(double y) const;
};

// The layout write_line_plot uses for this spec (checks the spec as write_line_plot does).
PlotFrame layout_plot(const PlotSpec& spec);

// Renders the plot into a row-major RGB buffer of spec.height x spec.width x 3 bytes.
std::vector<uint8_t> render_line_plot(const PlotSpec& spec);

// Renders the plot and writes it as a PNG file at path.
void write_line_plot(const PlotSpec& spec, const std::string& path);

// Writes a row-major RGB image (height x width x 3 bytes) as a PNG file at path, atomically;
// `what` names the image in errors.
void write_png(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb,
               const std::string& what);

}  // namespace hqlt::train
