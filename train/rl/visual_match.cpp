#include "train/rl/visual_match.h"

#include "engine/error.h"

namespace hqlt::train::rl {

namespace {

constexpr int kExplore = 15, kReward = 15;
constexpr double kFinalReward = 100;  // the paper's configuration (the original game paid 5)
constexpr char kSymbols[3] = {'b', 'c', 'e'};

// The player sits in a ring of eight cells; all are walls but one, which shows the target.
class ExploreChapter final : public Chapter {
 public:
  ExploreChapter(char target, ExampleRng& rng) {
    const Board drawn = board_from({"", "    ppp", "    p+p", "    ppp"});
    std::vector<Cell> ring;
    for (int r = 0; r < kBoardRows; ++r)
      for (int c = 0; c < kBoardCols; ++c) {
        if (drawn[size_t(r)][size_t(c)] == 'p') ring.push_back({r, c});
        if (drawn[size_t(r)][size_t(c)] == '+') player_ = {r, c};
      }
    const Cell shown = ring[size_t(rng.integer(0, int64_t(ring.size()) - 1))];
    board_ = board_from({});
    for (const Cell c : ring) board_[size_t(c.row)][size_t(c.col)] = c == shown ? target : '#';
  }
  int length() const override { return kExplore; }
  double act(int, int) override { return 0; }  // walled in: every move is blocked
  Board board() const override {
    Board b = board_;
    b[size_t(player_.row)][size_t(player_.col)] = '+';
    return b;
  }
  Cell player() const override { return player_; }
  int expert_action() const override { return 0; }

 private:
  Board board_;
  Cell player_;
};

// Three doors, b at (1, 2), c at (1, 5), e at (1, 8); entering one pays if it is the
// target's, and removes all three. The episode goes on to the chapter's end either way.
class RewardChapter final : public Chapter {
 public:
  explicit RewardChapter(char target) : target_(target) {
    walls_ = board_from({"###########", "# b  c  e #", "#         #", "#         #", "####   ####", "   # + #",
                         "   #####"});
    for (int r = 0; r < kBoardRows; ++r)
      for (int c = 0; c < kBoardCols; ++c) {
        char& ch = walls_[size_t(r)][size_t(c)];
        if (ch == '+') player_ = {r, c};
        if (ch == 'b' || ch == 'c' || ch == 'e') doors_.push_back({{r, c}, ch});
        if (ch != '#') ch = ' ';
      }
  }
  int length() const override { return kReward; }
  double act(int action, int) override {
    player_ = move_on(walls_, player_, action);
    if (doors_open_)
      for (const Door& d : doors_)
        if (d.cell == player_) {
          doors_open_ = false;
          return d.symbol == target_ ? kFinalReward : 0.0;
        }
    return 0;
  }
  Board board() const override {
    Board b = walls_;
    b[size_t(player_.row)][size_t(player_.col)] = '+';
    if (doors_open_)  // drawn above the player
      for (const Door& d : doors_) b[size_t(d.cell.row)][size_t(d.cell.col)] = d.symbol;
    return b;
  }
  Cell player() const override { return player_; }
  int expert_action() const override {
    if (!doors_open_) return 0;
    for (const Door& d : doors_)
      if (d.symbol == target_) {
        const auto free = [&](Cell c) {
          if (walls_[size_t(c.row)][size_t(c.col)] == '#') return false;
          for (const Door& other : doors_)
            if (other.cell == c && other.symbol != target_) return false;  // never the wrong door
          return true;
        };
        return std::max(0, first_step_towards(player_, d.cell, free));
      }
    return 0;
  }

 private:
  struct Door {
    Cell cell;
    char symbol;
  };
  char target_;
  Board walls_;
  Cell player_;
  std::vector<Door> doors_;
  bool doors_open_ = true;
};

}  // namespace

VisualMatch::VisualMatch(int64_t distractor_length, uint64_t seed)
    : GridEnv("visual_match", kExplore, distractor_length, kReward, seed) {
  // The doors' colours, once per environment: a permutation of red, green, blue drawn from
  // the seed's test stream, which no episode uses (training episodes use the train split,
  // evaluation episodes the validation split). So training and evaluation see the same
  // colours for the same symbols.
  ExampleRng rng(seed, Split::test, 0);
  std::array<Rgb, 3> colours = kPrimaryColours;
  for (int i = 0; i < 2; ++i) std::swap(colours[size_t(i)], colours[size_t(rng.integer(i, 2))]);
  for (int i = 0; i < 3; ++i) palette_[size_t(kSymbols[i])] = colours[size_t(i)];
}

std::unique_ptr<Chapter> VisualMatch::explore_chapter(ExampleRng& rng) {
  target_ = kSymbols[rng.integer(0, 2)];
  return std::make_unique<ExploreChapter>(target_, rng);
}

std::unique_ptr<Chapter> VisualMatch::reward_chapter() { return std::make_unique<RewardChapter>(target_); }

}  // namespace hqlt::train::rl
