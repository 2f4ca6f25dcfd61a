#pragma once
// A small SVG writer for the walkthrough's pictures: boxes, lines, arrows and text on a
// canvas measured in pixels. The pictures are drawn by the chapters' own programs from the
// engine's real data (strides, tapes, tile masks), so they cannot disagree with the code.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace walkthrough {

class Svg {
 public:
  Svg(double width, double height) : width_(width), height_(height) {}

  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke = "#333") {
    body_ << "<rect x='" << x << "' y='" << y << "' width='" << w << "' height='" << h << "' fill='" << fill
          << "' stroke='" << stroke << "'/>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke = "#333", double width = 1.5) {
    body_ << "<line x1='" << x1 << "' y1='" << y1 << "' x2='" << x2 << "' y2='" << y2 << "' stroke='" << stroke
          << "' stroke-width='" << width << "'/>\n";
  }
  void arrow(double x1, double y1, double x2, double y2, const std::string& stroke = "#333") {
    body_ << "<line x1='" << x1 << "' y1='" << y1 << "' x2='" << x2 << "' y2='" << y2 << "' stroke='" << stroke
          << "' stroke-width='1.5' marker-end='url(#head)'/>\n";
  }
  // anchor: start, middle or end.
  void text(double x, double y, const std::string& s, double size = 14, const std::string& anchor = "middle",
            const std::string& fill = "#111") {
    body_ << "<text x='" << x << "' y='" << y << "' font-family='monospace' font-size='" << size
          << "' text-anchor='" << anchor << "' fill='" << fill << "'>" << escape(s) << "</text>\n";
  }
  void save(const std::string& path) const {
    std::ofstream out(path);
    out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width_ << "' height='" << height_
        << "' viewBox='0 0 " << width_ << " " << height_ << "'>\n"
        << "<defs><marker id='head' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
        << "<path d='M0,0 L8,4 L0,8 z' fill='#333'/></marker></defs>\n"
        << "<rect width='100%' height='100%' fill='white'/>\n"
        << body_.str() << "</svg>\n";
    if (!out) throw std::runtime_error("cannot write " + path);
  }

 private:
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '<') out += "&lt;";
      else if (c == '>') out += "&gt;";
      else if (c == '&') out += "&amp;";
      else out += c;
    }
    return out;
  }
  double width_, height_;
  std::ostringstream body_;
};

}  // namespace walkthrough
