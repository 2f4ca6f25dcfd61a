#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "io/atomic_file.h"

// The stb headers are single-file libraries: the implementation is compiled here, with
// static linkage so that no other file's copy can clash with it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace hqlt::train {

namespace {

constexpr int kTextScale = 2;   // tick labels, axis labels and legend: 2 px per font unit
constexpr int kTitleScale = 3;  // the title
constexpr int kGlyphHeight = 7; // height of a capital letter or digit, in font units
constexpr double kLineHalfWidth = 1.25;  // series lines are 2.5 px wide

const Rgb kBlack{0, 0, 0};
const Rgb kGrid{225, 225, 225};
const Rgb kLegendBorder{160, 160, 160};

// ---- Canvas: an RGB buffer with the few drawing primitives the plot needs. ----

struct Canvas {
  int width, height;
  std::vector<uint8_t> rgb;

  Canvas(int w, int h) : width(w), height(h), rgb(size_t(w) * size_t(h) * 3, 255) {}

  // Mixes colour c into pixel (x, y) with weight alpha in [0, 1]; pixels off the canvas
  // are ignored.
  void blend(int x, int y, Rgb c, double alpha) {
    if (x < 0 || y < 0 || x >= width || y >= height || alpha <= 0) return;
    uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    const uint8_t src[3] = {c.r, c.g, c.b};
    for (int k = 0; k < 3; ++k) p[k] = uint8_t(std::lround(p[k] * (1 - alpha) + src[k] * alpha));
  }
  // Fills the pixels [x0, x1) x [y0, y1).
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::max(y0, 0); y < std::min(y1, height); ++y)
      for (int x = std::max(x0, 0); x < std::min(x1, width); ++x) blend(x, y, c, 1.0);
  }
};

// stb_easy_font covers printable ASCII only; anything else is shown as '?'.
std::string printable(const std::string& text) {
  std::string out = text;
  for (char& ch : out)
    if (ch < 32 || ch > 126) ch = '?';
  return out;
}

int text_width(const std::string& text, int scale) {
  std::string s = printable(text);
  return stb_easy_font_width(s.data()) * scale;
}

// Draws text with its top-left corner at (x, y), each font unit a scale x scale block.
// vertical: rotated a quarter turn anticlockwise (reading upwards), with (x, y) then the
// bottom-left corner — for the y-axis label.
void draw_text(Canvas& canvas, int x, int y, const std::string& text, int scale, Rgb color,
               bool vertical = false) {
  std::string s = printable(text);
  // Each quad takes 64 bytes (4 vertices of x, y, z, rgba); a character uses at most ~12.
  std::vector<char> quads(s.size() * 64 * 16 + 64);
  int n = stb_easy_font_print(0, 0, s.data(), nullptr, quads.data(), int(quads.size()));
  for (int q = 0; q < n; ++q) {
    // Vertex 0 is the quad's top-left corner and vertex 2 its bottom-right (x, y floats).
    float v0[2], v2[2];
    std::memcpy(v0, &quads[size_t(q) * 64], sizeof v0);
    std::memcpy(v2, &quads[size_t(q) * 64 + 32], sizeof v2);
    int u0 = int(std::lround(v0[0])) * scale, u1 = int(std::lround(v2[0])) * scale;
    int w0 = int(std::lround(v0[1])) * scale, w1 = int(std::lround(v2[1])) * scale;
    if (vertical)
      canvas.fill(x + w0, y - u1, x + w1, y - u0, color);
    else
      canvas.fill(x + u0, y + w0, x + u1, y + w1, color);
  }
}

// ---- Axis ranges and ticks. ----

struct Range {
  double lo = 0, hi = 0;
  bool any = false;
  void add(double v) {
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
};

bool finite_point(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// Gives an empty or zero-width range a width (see the header).
Range widened(Range r, bool log_axis) {
  if (!r.any) return Range{0, 1, true};
  if (r.hi > r.lo) return r;
  double half = log_axis ? 1.0 : (r.lo != 0 ? std::abs(r.lo) / 2 : 0.5);
  return Range{r.lo - half, r.hi + half, true};
}

// A round step (1, 2 or 5 times a power of ten) giving about `target` intervals.
double nice_step(double span, int target) {
  double raw = span / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / magnitude;
  double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * magnitude;
}

struct Ticks {
  double lo, hi, step;
  std::vector<double> values;
};

// Ticks at multiples of a nice step; the range is widened out to the outermost ticks.
// integral: steps of at least 1 (log axes tick whole decades).
Ticks make_ticks(Range r, int target, bool integral) {
  double step = nice_step(r.hi - r.lo, target);
  if (integral) step = std::max(1.0, std::round(step));
  const double eps = 1e-9;  // keeps 0.30000000000000004 / 0.1 from becoming 4 steps
  double first = std::floor(r.lo / step + eps), last = std::ceil(r.hi / step - eps);
  if (last <= first) last = first + 1;
  Ticks t{first * step, last * step, step, {}};
  for (double k = first; k <= last + 0.5; k += 1) t.values.push_back(k * step);
  return t;
}

// A tick label with just enough decimals to tell neighbouring ticks apart.
std::string format_tick(double v, double step, bool log_axis) {
  char buf[64];
  if (log_axis) {
    std::snprintf(buf, sizeof buf, "%g", std::pow(10.0, v));
    return buf;
  }
  if (std::abs(v) < step * 1e-6) v = 0;  // no "-0.0" or "5.55e-17"
  double largest = std::max(std::abs(v), step);
  if (largest >= 1e6 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

int widest_label(const Ticks& t, bool log_axis) {
  int w = 0;
  for (double v : t.values) w = std::max(w, text_width(format_tick(v, t.step, log_axis), kTextScale));
  return w;
}

void check_spec(const PlotSpec& spec) {
  HQLT_CHECK(!spec.series.empty(), "plot '", spec.title, "': no series to draw");
  HQLT_CHECK(spec.width >= 200 && spec.height >= 150 && spec.width <= 8192 && spec.height <= 8192,
             "plot '", spec.title, "': canvas must be between 200 x 150 and 8192 x 8192 pixels, got ",
             spec.width, " x ", spec.height);
  for (const Series& s : spec.series)
    HQLT_CHECK(s.x.size() == s.y.size(), "plot '", spec.title, "': series '", s.label, "' has ",
               s.x.size(), " x values but ", s.y.size(), " y values");
}

// Layout of the text around the plot area, in pixels.
int title_band(const PlotSpec& spec) { return spec.title.empty() ? 20 : kGlyphHeight * kTitleScale + 28; }
int text_height() { return kGlyphHeight * kTextScale; }

// The legend box: one row per series, in the corner of the plot area (top-right, then
// top-left, bottom-right, bottom-left, right-middle) that hides the fewest points of the
// lines, sampled along every segment.
struct LegendBox {
  int x0, y0, x1, y1, row;
};
LegendBox legend_box(const PlotSpec& spec, const PlotFrame& f) {
  int label_w = 0;
  for (const Series& s : spec.series) label_w = std::max(label_w, text_width(s.label, kTextScale));
  int row = text_height() + 10;
  int w = 8 + 28 + 8 + label_w + 8;
  int h = int(spec.series.size()) * row + 8;
  const int left = f.left + 10, right = f.right - 10 - w, top = f.top + 10, bottom = f.bottom - 10 - h;
  const int middle = (f.top + f.bottom - h) / 2;
  const std::pair<int, int> corners[] = {{right, top}, {left, top}, {right, bottom}, {left, bottom}, {right, middle}};
  auto hidden = [&](int x0, int y0) {
    int64_t count = 0;
    for (const Series& s : spec.series)
      for (size_t i = 0; i + 1 < s.x.size(); ++i)
        for (int k = 0; k <= 32; ++k) {
          const double t = k / 32.0;
          const double x = s.x[i] + t * (s.x[i + 1] - s.x[i]);
          const double y = s.y[i] + t * (s.y[i + 1] - s.y[i]);
          if (!std::isfinite(x) || !std::isfinite(y) || (f.log_y && y <= 0)) continue;
          const double px = f.pixel_x(x), py = f.pixel_y(y);
          count += px >= x0 - 4 && px <= x0 + w + 4 && py >= y0 - 4 && py <= y0 + h + 4;
        }
    return count;
  };
  std::pair<int, int> best = corners[0];
  int64_t best_hidden = hidden(best.first, best.second);
  for (const auto& c : corners) {
    const int64_t n = hidden(c.first, c.second);
    if (n < best_hidden) best = c, best_hidden = n;
  }
  return LegendBox{best.first, best.second, best.first + w, best.second + h, row};
}

// Draws one series: coverage is the largest over all its segments (so joints are not
// darkened twice), each pixel's coverage from its distance to the nearest segment.
void draw_series(Canvas& canvas, const PlotFrame& f, const Series& s, Rgb color) {
  int pw = f.right - f.left + 1, ph = f.bottom - f.top + 1;
  std::vector<float> coverage(size_t(pw) * size_t(ph), 0.f);
  auto stamp = [&](double ax, double ay, double bx, double by) {
    double reach = kLineHalfWidth + 1;
    int x0 = std::max(f.left, int(std::floor(std::min(ax, bx) - reach)));
    int x1 = std::min(f.right, int(std::ceil(std::max(ax, bx) + reach)));
    int y0 = std::max(f.top, int(std::floor(std::min(ay, by) - reach)));
    int y1 = std::min(f.bottom, int(std::ceil(std::max(ay, by) + reach)));
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int py = y0; py <= y1; ++py) {
      for (int px = x0; px <= x1; ++px) {
        double cx = px + 0.5, cy = py + 0.5;
        double t = len2 > 0 ? std::clamp(((cx - ax) * dx + (cy - ay) * dy) / len2, 0.0, 1.0) : 0.0;
        double d = std::hypot(cx - (ax + t * dx), cy - (ay + t * dy));
        float c = float(std::clamp(kLineHalfWidth + 0.5 - d, 0.0, 1.0));
        float& slot = coverage[size_t(py - f.top) * size_t(pw) + size_t(px - f.left)];
        slot = std::max(slot, c);
      }
    }
  };
  // Runs of consecutive drawable points become polylines; a lone point becomes a dot.
  size_t n = s.x.size();
  for (size_t i = 0; i < n; ++i) {
    if (!finite_point(s.x[i], s.y[i], f.log_y)) continue;
    double ax = f.pixel_x(s.x[i]), ay = f.pixel_y(s.y[i]);
    bool prev_ok = i > 0 && finite_point(s.x[i - 1], s.y[i - 1], f.log_y);
    bool next_ok = i + 1 < n && finite_point(s.x[i + 1], s.y[i + 1], f.log_y);
    if (next_ok)
      stamp(ax, ay, f.pixel_x(s.x[i + 1]), f.pixel_y(s.y[i + 1]));
    else if (!prev_ok)
      stamp(ax, ay, ax, ay);
  }
  for (int py = f.top; py <= f.bottom; ++py)
    for (int px = f.left; px <= f.right; ++px)
      canvas.blend(px, py, color, coverage[size_t(py - f.top) * size_t(pw) + size_t(px - f.left)]);
}

}  // namespace

Rgb series_color(size_t index) {
  static const Rgb palette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                  {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                  {188, 189, 34}, {23, 190, 207}};
  return palette[index % 10];
}

double PlotFrame::pixel_x(double x) const {
  return left + (x - x_min) / (x_max - x_min) * (right - left) + 0.5;
}

double PlotFrame::pixel_y(double y) const {
  double v = log_y ? std::log10(y) : y;
  return bottom - (v - y_min) / (y_max - y_min) * (bottom - top) + 0.5;
}

PlotFrame layout_plot(const PlotSpec& spec) {
  check_spec(spec);
  Range xr, yr;
  for (const Series& s : spec.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (finite_point(s.x[i], s.y[i], spec.log_y)) {
        xr.add(s.x[i]);
        yr.add(spec.log_y ? std::log10(s.y[i]) : s.y[i]);
      }
  xr = widened(xr, false);
  yr = widened(yr, spec.log_y);

  PlotFrame f;
  f.log_y = spec.log_y;
  f.top = title_band(spec);
  f.bottom = spec.height - 1 - (text_height() + 14) - (spec.x_label.empty() ? 0 : text_height() + 14);

  // About one y tick per 60 px of height.
  int y_target = std::max(2, (f.bottom - f.top) / 60);
  Ticks yt = make_ticks(yr, y_target, spec.log_y);
  int y_label_band = spec.y_label.empty() ? 0 : text_height() + 14;
  f.left = 10 + y_label_band + widest_label(yt, spec.log_y) + 10;

  // As many x ticks as fit with their labels at least 20 px apart.
  Ticks xt{};
  for (int target = 10; target >= 2; --target) {
    xt = make_ticks(xr, target, false);
    int right_guess = spec.width - 1 - std::max(25, widest_label(xt, false) / 2 + 8);
    double spacing = double(right_guess - f.left) / double(xt.values.size() - 1);
    f.right = right_guess;
    if (widest_label(xt, false) + 20 <= spacing) break;
  }
  HQLT_CHECK(f.right - f.left >= 20 && f.bottom - f.top >= 20, "plot '", spec.title,
             "': the canvas ", spec.width, " x ", spec.height, " leaves no room for the plot area");

  f.x_min = xt.lo;
  f.x_max = xt.hi;
  f.y_min = yt.lo;
  f.y_max = yt.hi;
  f.x_ticks = xt.values;
  f.y_ticks = yt.values;
  return f;
}

std::vector<uint8_t> render_line_plot(const PlotSpec& spec) {
  PlotFrame f = layout_plot(spec);
  Canvas canvas(spec.width, spec.height);
  double x_step = f.x_ticks.size() > 1 ? f.x_ticks[1] - f.x_ticks[0] : 1;
  double y_step = f.y_ticks.size() > 1 ? f.y_ticks[1] - f.y_ticks[0] : 1;

  // Grid, under everything else.
  for (double t : f.x_ticks) {
    int px = int(std::floor(f.pixel_x(t)));
    canvas.fill(px, f.top, px + 1, f.bottom + 1, kGrid);
  }
  for (double t : f.y_ticks) {
    int py = int(std::floor(f.pixel_y(f.log_y ? std::pow(10.0, t) : t)));
    canvas.fill(f.left, py, f.right + 1, py + 1, kGrid);
  }

  for (size_t i = 0; i < spec.series.size(); ++i)
    draw_series(canvas, f, spec.series[i], series_color(i));

  // Frame, ticks and their labels.
  canvas.fill(f.left, f.top, f.right + 1, f.top + 1, kBlack);
  canvas.fill(f.left, f.bottom, f.right + 1, f.bottom + 1, kBlack);
  canvas.fill(f.left, f.top, f.left + 1, f.bottom + 1, kBlack);
  canvas.fill(f.right, f.top, f.right + 1, f.bottom + 1, kBlack);
  for (double t : f.x_ticks) {
    int px = int(std::floor(f.pixel_x(t)));
    canvas.fill(px, f.bottom, px + 1, f.bottom + 6, kBlack);
    std::string label = format_tick(t, x_step, false);
    draw_text(canvas, px - text_width(label, kTextScale) / 2, f.bottom + 10, label, kTextScale, kBlack);
  }
  for (double t : f.y_ticks) {
    int py = int(std::floor(f.pixel_y(f.log_y ? std::pow(10.0, t) : t)));
    canvas.fill(f.left - 5, py, f.left, py + 1, kBlack);
    std::string label = format_tick(t, y_step, f.log_y);
    draw_text(canvas, f.left - 8 - text_width(label, kTextScale), py - text_height() / 2, label,
              kTextScale, kBlack);
  }

  // Axis labels (centred on the plot area) and the title (centred on the canvas).
  if (!spec.x_label.empty()) {
    int x = (f.left + f.right) / 2 - text_width(spec.x_label, kTextScale) / 2;
    draw_text(canvas, x, spec.height - 8 - text_height(), spec.x_label, kTextScale, kBlack);
  }
  if (!spec.y_label.empty()) {
    int y = (f.top + f.bottom) / 2 + text_width(spec.y_label, kTextScale) / 2;
    draw_text(canvas, 10, y, spec.y_label, kTextScale, kBlack, /*vertical=*/true);
  }
  if (!spec.title.empty()) {
    int x = spec.width / 2 - text_width(spec.title, kTitleScale) / 2;
    draw_text(canvas, x, 14, spec.title, kTitleScale, kBlack);
  }

  // Legend, over the data, when any series has a label.
  bool any_label = std::any_of(spec.series.begin(), spec.series.end(),
                               [](const Series& s) { return !s.label.empty(); });
  if (any_label) {
    LegendBox box = legend_box(spec, f);
    canvas.fill(box.x0, box.y0, box.x1, box.y1, kLegendBorder);
    canvas.fill(box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1, Rgb{255, 255, 255});
    for (size_t i = 0; i < spec.series.size(); ++i) {
      int row_top = box.y0 + 4 + int(i) * box.row;
      int mid = row_top + box.row / 2;
      canvas.fill(box.x0 + 8, mid - 2, box.x0 + 36, mid + 2, series_color(i));
      draw_text(canvas, box.x0 + 44, mid - text_height() / 2, spec.series[i].label, kTextScale, kBlack);
    }
  }
  return canvas.rgb;
}

void write_png(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb,
               const std::string& what) {
  HQLT_CHECK(width > 0 && height > 0 && rgb.size() == size_t(width) * size_t(height) * 3, what,
             ": an image of ", width, " x ", height, " needs ", int64_t(width) * height * 3, " bytes, got ",
             rgb.size());
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  int ok = stbi_write_png_to_func(append, &png, width, height, 3, rgb.data(), width * 3);
  HQLT_CHECK(ok != 0 && !png.empty(), what, ": PNG encoding failed for ", path);
  io::write_file_atomically(path, [&](io::FileSink& sink) { sink.write(png); });
}

void write_line_plot(const PlotSpec& spec, const std::string& path) {
  write_png(path, spec.width, spec.height, render_line_plot(spec), "plot '" + spec.title + "'");
}

}  // namespace hqlt::train
