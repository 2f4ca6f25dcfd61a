// The walkthrough's snippet runner: every ```cpp block of a chapter is compiled and run by
// the test suite (ctest -L docs), and where the chapter shows the output, the program must
// print exactly that. Two modes:
//
//   hqlt_walkthrough generate CHAPTER.md OUT.cpp   the chapter as one C++ program
//   hqlt_walkthrough check CHAPTER.md PROGRAM      runs the program, compares each snippet's output
//
// The chapter reads like a notebook: ```cpp blocks are statements run in order inside one
// main(), so a variable made in one block is there in the next; ```cpp global blocks are
// declarations (functions, structs) placed before main(). A ```text block that directly
// follows a block is the output that block must print; ```text any (or no block) shows
// output without checking it, for figures that vary from run to run (timings).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Snippet {
  bool global = false;
  int line = 0;            // where the block opens in the chapter
  std::string code;
  bool has_output = false;  // a checked ```text block follows
  std::string output;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "walkthrough: %s\n", message.c_str());
  std::exit(2);
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
  return s;
}

// Trailing spaces of every line and trailing blank lines do not count.
std::string normalise(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += rtrim(line) + "\n";
  return rtrim(out);
}

std::vector<Snippet> parse(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  std::vector<Snippet> snippets;
  std::string line;
  int number = 0;
  bool last_was_cpp = false;  // the previous fenced block was a snippet (no prose since)
  while (std::getline(in, line)) {
    ++number;
    const std::string fence = rtrim(line);
    if (fence.rfind("```", 0) != 0) {
      if (!rtrim(fence).empty()) last_was_cpp = false;
      continue;
    }
    const std::string info = fence.substr(3);
    std::string body;
    const int open = number;
    bool closed = false;
    while (std::getline(in, line)) {
      ++number;
      if (rtrim(line) == "```") {
        closed = true;
        break;
      }
      body += line + "\n";
    }
    if (!closed) die(path + ":" + std::to_string(open) + ": a ``` block is never closed");
    if (info == "cpp" || info == "cpp global") {
      snippets.push_back({info == "cpp global", open, body, false, ""});
      last_was_cpp = true;
    } else if (info == "text" && last_was_cpp) {
      snippets.back().has_output = true;
      snippets.back().output = body;
      last_was_cpp = false;
    } else {
      last_was_cpp = false;
    }
  }
  return snippets;
}

const char* kMarker = "@@walkthrough snippet ";

void generate(const std::string& chapter, const std::string& out_path) {
  const std::vector<Snippet> snippets = parse(chapter);
  std::ostringstream out;
  out << "// Generated from " << chapter << " by docs/walkthrough/tool/walkthrough.cpp; do not edit.\n"
      << "#include \"prelude.h\"\n\n";
  for (size_t i = 0; i < snippets.size(); ++i)
    if (snippets[i].global) out << "#line " << snippets[i].line + 1 << " \"" << chapter << "\"\n" << snippets[i].code;
  out << "\nint main() {\n  try {\n";
  for (size_t i = 0; i < snippets.size(); ++i) {
    if (snippets[i].global) continue;
    out << "  std::cout << \"" << kMarker << i + 1 << "\" << std::endl;\n";
    out << "#line " << snippets[i].line + 1 << " \"" << chapter << "\"\n" << snippets[i].code;
  }
  out << "  } catch (const std::exception& e) {\n"
      << "    std::cout << std::flush;\n"
      << "    std::fprintf(stderr, \"error: %s\\n\", e.what());\n"
      << "    return 1;\n  }\n  std::cout << std::flush;\n  return 0;\n}\n";
  std::ofstream file(out_path);
  file << out.str();
  if (!file) die("cannot write " + out_path);
}

int check(const std::string& chapter, const std::string& program) {
  const std::vector<Snippet> snippets = parse(chapter);
  FILE* pipe = popen(program.c_str(), "r");
  if (!pipe) die("cannot run " + program);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
  const int status = pclose(pipe);

  // Split the output at the markers: outputs[k] is what snippet k printed.
  std::vector<std::string> outputs(snippets.size() + 1);
  std::istringstream in(text);
  std::string line;
  size_t current = 0, last_started = 0;
  while (std::getline(in, line)) {
    if (line.rfind(kMarker, 0) == 0) {
      current = std::stoul(line.substr(std::string(kMarker).size()));
      last_started = current;
      continue;
    }
    if (current > 0 && current <= snippets.size()) outputs[current] += line + "\n";
  }
  int failures = 0, checked = 0;
  if (status != 0) {
    const Snippet* s = last_started ? &snippets[last_started - 1] : nullptr;
    std::fprintf(stderr, "%s: the chapter's program failed (status %d)%s\n", chapter.c_str(), status,
                 s ? (" in snippet " + std::to_string(last_started) + " (line " + std::to_string(s->line) + ")").c_str()
                   : "");
    ++failures;
  }
  for (size_t i = 0; i < snippets.size(); ++i) {
    const Snippet& s = snippets[i];
    if (!s.has_output) continue;
    ++checked;
    const std::string want = normalise(s.output), got = normalise(outputs[i + 1]);
    if (want == got) continue;
    ++failures;
    std::fprintf(stderr,
                 "%s: snippet %zu (line %d) printed something else than the chapter shows.\n--- the chapter "
                 "shows:\n%s\n--- the program printed:\n%s\n---\n",
                 chapter.c_str(), i + 1, s.line, want.c_str(), got.c_str());
  }
  std::printf("%s: %zu snippets compiled and run, %d outputs checked, %d failures\n", chapter.c_str(),
              snippets.size(), checked, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: hqlt_walkthrough generate CHAPTER.md OUT.cpp | hqlt_walkthrough check CHAPTER.md PROGRAM";
  if (argc != 4) die(usage);
  const std::string mode = argv[1];
  if (mode == "generate") {
    generate(argv[2], argv[3]);
    return 0;
  }
  if (mode == "check") return check(argv[2], argv[3]);
  die(usage);
}
