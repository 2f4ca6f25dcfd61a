// write_line_plot: the PNG has the requested size, a white background, each series drawn in
// its palette colour where its data lies, title text in the title band; log-y plots, NaN
// points, empty and constant series are drawn without trouble; bad specs and unwritable
// paths are errors.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "engine/error.h"
#include "train/plot.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STBI_ONLY_PNG
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

using namespace hqlt;
using namespace hqlt::train;
namespace fs = std::filesystem;

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    const uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    return Rgb{p[0], p[1], p[2]};
  }
};

Image read_png(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                       stbi_image_free);
  REQUIRE(data != nullptr);
  Image img{w, h, {}};
  img.rgb.assign(data.get(), data.get() + size_t(w) * size_t(h) * 3);
  return img;
}

fs::path fresh_dir(const char* name) {
  fs::path dir = fs::temp_directory_path() / (std::string(name) + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Two straight lines: "rising" from (0, 0) to (100, 10), "flat" at y = 2.
PlotSpec two_lines() {
  PlotSpec spec;
  spec.title = "Loss";
  spec.x_label = "step";
  spec.y_label = "loss";
  Series rising{"rising", {}, {}}, flat{"flat", {}, {}};
  for (int i = 0; i <= 100; ++i) {
    rising.x.push_back(i);
    rising.y.push_back(i / 10.0);
    flat.x.push_back(i);
    flat.y.push_back(2.0);
  }
  spec.series = {rising, flat};
  return spec;
}

const Rgb kWhite{255, 255, 255};

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("train::write_line_plot draws series in their colours") {
    fs::path dir = fresh_dir("hqlt_plot");
    std::string path = (dir / "loss.png").string();
    PlotSpec spec = two_lines();
    write_line_plot(spec, path);
    Image img = read_png(path);
    REQUIRE(img.width == 800);
    REQUIRE(img.height == 500);

    PlotFrame f = layout_plot(spec);
    CHECK(f.x_min <= 0);
    CHECK(f.x_max >= 100);
    CHECK(f.y_min <= 0);
    CHECK(f.y_max >= 10);
    // Under a data point of each series: that series' colour.
    CHECK(img.at(int(f.pixel_x(40)), int(f.pixel_y(4.0))) == series_color(0));
    CHECK(img.at(int(f.pixel_x(70)), int(f.pixel_y(2.0))) == series_color(1));
    CHECK(!(series_color(0) == series_color(1)));
    // Away from the lines (between the flat line and the rising one): background, and the
    // canvas corners are white.
    CHECK(img.at(int(f.pixel_x(85)), int(f.pixel_y(5.3))) == kWhite);
    CHECK(img.at(0, 0) == kWhite);
    CHECK(img.at(img.width - 1, img.height - 1) == kWhite);
    // Title text: dark pixels in the band above the plot area.
    int dark = 0;
    for (int y = 0; y < f.top; ++y)
      for (int x = 0; x < img.width; ++x) dark += img.at(x, y) == Rgb{0, 0, 0};
    CHECK(dark > 50);
    // No temporary file left behind.
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    fs::remove_all(dir);
  }

  TEST_CASE("train::write_line_plot handles log-y - NaN - empty and constant series") {
    fs::path dir = fresh_dir("hqlt_plot_edge");
    PlotSpec spec = two_lines();
    spec.log_y = true;  // "rising" starts at 0, which a log axis cannot show
    spec.series[0].y[50] = std::numeric_limits<double>::quiet_NaN();
    spec.series[0].y[60] = -1;
    spec.series[1].y[10] = std::numeric_limits<double>::infinity();
    spec.series.push_back(Series{"empty", {}, {}});
    write_line_plot(spec, (dir / "log.png").string());
    Image img = read_png((dir / "log.png").string());
    CHECK(img.width == 800);
    PlotFrame f = layout_plot(spec);
    CHECK(std::isfinite(f.y_min));
    CHECK(f.y_min <= std::log10(0.1));
    CHECK(img.at(int(f.pixel_x(70)), int(f.pixel_y(2.0))) == series_color(1));

    PlotSpec constant;
    constant.width = 300;
    constant.height = 200;
    constant.series = {Series{"c", {5, 5}, {3, 3}}, Series{"", {}, {}}};
    PlotFrame cf = layout_plot(constant);
    CHECK(cf.x_max > cf.x_min);
    CHECK(cf.y_max > cf.y_min);
    write_line_plot(constant, (dir / "const.png").string());
    Image small = read_png((dir / "const.png").string());
    CHECK(small.width == 300);
    CHECK(small.height == 200);
    CHECK(small.at(int(cf.pixel_x(5)), int(cf.pixel_y(3))) == series_color(0));

    PlotSpec nothing_finite;
    nothing_finite.log_y = true;
    nothing_finite.series = {Series{"neg", {1, 2}, {-1, 0}}};
    CHECK_NOTHROW(write_line_plot(nothing_finite, (dir / "none.png").string()));
    fs::remove_all(dir);
  }

  TEST_CASE("train::write_line_plot bad input") {
    fs::path dir = fresh_dir("hqlt_plot_bad");
    PlotSpec none;
    none.title = "empty";
    CHECK_THROWS_WITH_AS(write_line_plot(none, (dir / "a.png").string()), doctest::Contains("no series"),
                         Error);
    PlotSpec mismatch;
    mismatch.series = {Series{"bad", {1, 2, 3}, {1, 2}}};
    CHECK_THROWS_WITH_AS(write_line_plot(mismatch, (dir / "b.png").string()), doctest::Contains("'bad'"),
                         Error);
    PlotSpec tiny = two_lines();
    tiny.width = 50;
    CHECK_THROWS_WITH_AS(write_line_plot(tiny, (dir / "c.png").string()), doctest::Contains("canvas"), Error);
    std::string unwritable = (dir / "no_such_dir" / "d.png").string();
    CHECK_THROWS_WITH_AS(write_line_plot(two_lines(), unwritable), doctest::Contains("no_such_dir"), Error);
    fs::remove_all(dir);
  }
}
