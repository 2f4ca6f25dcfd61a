#include "train/rl/grid_world.h"

#include <algorithm>
#include <deque>

#include "engine/error.h"

namespace hqlt::train::rl {

Cell moved(Cell from, int action) {
  switch (action) {
    case 0: return {from.row - 1, from.col};
    case 1: return {from.row + 1, from.col};
    case 2: return {from.row, from.col - 1};
    case 3: return {from.row, from.col + 1};
  }
  fail("grid world: action must be in [0, 3], got ", action);
}

bool on_board(Cell c) { return c.row >= 0 && c.row < kBoardRows && c.col >= 0 && c.col < kBoardCols; }

Board board_from(const std::vector<std::string>& rows) {
  HQLT_CHECK(rows.size() <= size_t(kBoardRows), "grid world: a board has at most 7 rows");
  Board b;
  for (int r = 0; r < kBoardRows; ++r) {
    b[size_t(r)] = size_t(r) < rows.size() ? rows[size_t(r)] : "";
    HQLT_CHECK(b[size_t(r)].size() <= size_t(kBoardCols), "grid world: a board row has at most 11 columns");
    b[size_t(r)].resize(kBoardCols, ' ');
  }
  return b;
}

namespace {

// §1.2.5: uint8(c · 255 / 1000), rounded down.
Rgb from_thousandths(int r, int g, int b) {
  return {uint8_t(r * 255 / 1000), uint8_t(g * 255 / 1000), uint8_t(b * 255 / 1000)};
}

}  // namespace

Palette base_palette() {
  Palette p;
  p.fill(from_thousandths(800, 800, 800));  // background, floor, anything off the board
  p['#'] = from_thousandths(100, 100, 100);
  p['+'] = from_thousandths(898, 584, 430);
  p['a'] = from_thousandths(550, 700, 0);
  p['k'] = from_thousandths(627, 321, 176);
  p['d'] = from_thousandths(529, 808, 922);
  p['i'] = from_thousandths(1000, 1000, 1000);
  return p;
}

char view_glyph(const Observation& view, int row, int col) {
  const Rgb rgb = {uint8_t(view[size_t(row * kCrop + col)]), uint8_t(view[size_t(kCrop * kCrop + row * kCrop + col)]),
                   uint8_t(view[size_t(2 * kCrop * kCrop + row * kCrop + col)])};
  static const Palette palette = base_palette();
  for (const auto [ch, letter] : {std::pair{' ', '.'}, {'#', '#'}, {'+', '@'}, {'a', 'a'}, {'k', 'k'}, {'d', 'D'}, {'i', 'i'}})
    if (palette[size_t(ch)] == rgb) return letter;
  for (size_t i = 0; i < kPrimaryColours.size(); ++i)
    if (kPrimaryColours[i] == rgb) return "RGB"[i];
  return '?';
}

Observation crop_observation(const Board& board, Cell player, const Palette& palette) {
  Observation obs(size_t(3 * kCrop * kCrop));
  for (int r = 0; r < kCrop; ++r)
    for (int c = 0; c < kCrop; ++c) {
      const Cell at{player.row - kCrop / 2 + r, player.col - kCrop / 2 + c};
      const char ch = on_board(at) ? board[size_t(at.row)][size_t(at.col)] : ' ';
      const Rgb& rgb = palette[size_t(static_cast<unsigned char>(ch) & 127)];
      for (int ch_i = 0; ch_i < 3; ++ch_i) obs[size_t(ch_i * kCrop * kCrop + r * kCrop + c)] = float(rgb[size_t(ch_i)]);
    }
  return obs;
}

Cell move_on(const Board& walls, Cell from, int action) {
  const Cell next = moved(from, action);
  return on_board(next) && walls[size_t(next.row)][size_t(next.col)] != '#' ? next : from;
}

std::function<bool(Cell)> not_wall(const Board& walls) {
  return [&walls](Cell c) { return walls[size_t(c.row)][size_t(c.col)] != '#'; };
}

int first_step_towards(Cell from, Cell to, const std::function<bool(Cell)>& free) {
  if (from == to) return -1;
  // Breadth-first search backwards from `to`: the distance of every reachable cell to it;
  // then the first action whose cell is one step closer.
  std::array<std::array<int, kBoardCols>, kBoardRows> dist;
  for (auto& row : dist) row.fill(-1);
  std::deque<Cell> queue{to};
  dist[size_t(to.row)][size_t(to.col)] = 0;
  while (!queue.empty()) {
    const Cell c = queue.front();
    queue.pop_front();
    for (int a = 0; a < kActions; ++a) {
      const Cell n = moved(c, a);
      if (!on_board(n) || dist[size_t(n.row)][size_t(n.col)] >= 0 || !(free(n) || n == from)) continue;
      dist[size_t(n.row)][size_t(n.col)] = dist[size_t(c.row)][size_t(c.col)] + 1;
      queue.push_back(n);
    }
  }
  const int here = dist[size_t(from.row)][size_t(from.col)];
  if (here < 0) return -1;
  for (int a = 0; a < kActions; ++a) {
    const Cell n = moved(from, a);
    if (on_board(n) && dist[size_t(n.row)][size_t(n.col)] == here - 1) return a;
  }
  return -1;
}

// ---- the distractor chapter ----------------------------------------------------------

namespace {

const std::vector<std::string> kDistractorRows = {
    "###########",
    "#a a a a a#",
    "# a a a a #",
    "#a a a a a#",
    "# a a a a #",
    "#a a + a a#",
    "###########",
};
constexpr int kApples = 10, kAppleReward = 1, kRespawnAfter = 20;

}  // namespace

DistractorChapter::DistractorChapter(int length, ExampleRng& rng) : length_(length) {
  walls_ = board_from(kDistractorRows);
  std::vector<Cell> candidates;
  for (int r = 0; r < kBoardRows; ++r)
    for (int c = 0; c < kBoardCols; ++c) {
      char& ch = walls_[size_t(r)][size_t(c)];
      if (ch == 'a') candidates.push_back({r, c});
      if (ch == '+') player_ = {r, c};
      if (ch != '#') ch = ' ';
    }
  // Keep kApples of the 22 candidates, uniformly: a partial Fisher–Yates shuffle, the kept
  // ones sorted back into board order.
  for (int i = 0; i < kApples; ++i) {
    const int64_t j = rng.integer(i, int64_t(candidates.size()) - 1);
    std::swap(candidates[size_t(i)], candidates[size_t(j)]);
  }
  candidates.resize(kApples);
  std::sort(candidates.begin(), candidates.end(),
            [](Cell a, Cell b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });
  for (const Cell c : candidates) apples_.push_back({c, true, 0});
}

double DistractorChapter::act(int action, int frame) {
  player_ = move_on(walls_, player_, action);
  double reward = 0;
  for (Apple& a : apples_) {
    if (a.visible && a.cell == player_) {
      a.visible = false;
      a.picked_at = frame;
      reward += kAppleReward;
    } else if (!a.visible && frame > a.picked_at + kRespawnAfter) {
      a.visible = true;  // seen in this frame; taken again only by a later action
    }
  }
  return reward;
}

Board DistractorChapter::board() const {
  Board b = walls_;
  for (const Apple& a : apples_)
    if (a.visible) b[size_t(a.cell.row)][size_t(a.cell.col)] = 'a';
  b[size_t(player_.row)][size_t(player_.col)] = '+';  // apples are drawn below the player
  return b;
}

int DistractorChapter::expert_action() const {
  int best = -1, best_distance = 1 << 20;
  for (const Apple& a : apples_) {
    if (!a.visible) continue;
    const int distance = std::abs(a.cell.row - player_.row) + std::abs(a.cell.col - player_.col);
    if (distance < best_distance) best_distance = distance, best = first_step_towards(player_, a.cell, not_wall(walls_));
  }
  return best >= 0 ? best : 0;
}

// ---- an episode of chapters ----------------------------------------------------------

GridEnv::GridEnv(std::string game, int explore, int64_t distractor_length, int reward, uint64_t seed)
    : game_(std::move(game)), explore_(explore), reward_(reward), distractor_(distractor_length), seed_(seed) {
  HQLT_CHECK(distractor_length >= 1 && distractor_length <= 100000, game_,
             ": distractor length must be in [1, 100000], got ", distractor_length);
}

Observation GridEnv::reset(Split split, uint64_t episode) {
  ExampleRng rng(seed_, split, episode);
  chapters_.clear();
  chapters_.push_back(explore_chapter(rng));
  chapters_.push_back(std::make_unique<DistractorChapter>(int(distractor_), rng));
  chapters_.push_back(reward_chapter());
  HQLT_CHECK(chapters_[0]->length() == explore_ && chapters_[2]->length() == reward_, game_,
             ": chapter lengths differ from the declared ones");
  chapter_ = 0, frame_ = 0;
  last_chapter_reward_ = 0;
  done_ = false;
  return observe();
}

Observation GridEnv::observe() const {
  const Chapter& c = chapter();
  return crop_observation(c.board(), c.player(), palette_);
}

Step GridEnv::step(int action) {
  HQLT_CHECK(!done_, name(), ": step after the episode's last action (", episode_length(),
             " actions); call reset first");
  HQLT_CHECK(action >= 0 && action < kActions, name(), ": action must be in [0, 3], got ", action);
  Step s;
  frame_ += 1;
  s.reward = chapters_[size_t(chapter_)]->act(action, frame_);
  const bool last_chapter = chapter_ + 1 == int(chapters_.size());
  if (last_chapter) last_chapter_reward_ += s.reward;
  if (frame_ == chapter().length()) {
    if (last_chapter) {
      done_ = true;
      s.done = true;
      s.success = last_chapter_reward_ > 0;
    } else {
      chapter_ += 1, frame_ = 0;  // the next chapter's first frame is what this action shows
    }
  }
  s.observation = observe();
  return s;
}

int GridEnv::expert_action() const { return chapter().expert_action(); }

}  // namespace hqlt::train::rl
