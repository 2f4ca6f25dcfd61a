#pragma once
// The machinery Visual Match and Key-to-Door share (docs/math/rl.md §1.2): a 7x11 board
// seen through a 5x5 window centred on the player, episodes made of chapters (explore,
// distractor, reward) that each last a fixed number of actions, and the distractor chapter
// of apples that both games use.
//
// The order of events, which decides what an agent can learn from:
//   * one action: the player moves (into a free cell; walls and the chapter's blocking
//     objects stop it), then the chapter's objects react to where it stands, then the
//     chapter's frame counter goes up by one;
//   * the action that brings the counter to the chapter's length ends the chapter: it
//     returns the next chapter's first frame (the old chapter's last frame is never seen)
//     and the old chapter's reward for that action; after the last chapter it returns that
//     chapter's final frame;
//   * success is "the last chapter paid something".
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/rl/env.h"

namespace hqlt::train::rl {

inline constexpr int kBoardRows = 7, kBoardCols = 11, kCrop = 5;

struct Cell {
  int row = 0, col = 0;
  bool operator==(const Cell&) const = default;
};

// Actions of the grid worlds: 0 north (row − 1), 1 south, 2 west (col − 1), 3 east.
Cell moved(Cell from, int action);
bool on_board(Cell c);

// What a chapter shows: one character per board cell, the top one in the chapter's drawing
// order, the player included ('+'). ' ' is floor or empty space.
using Board = std::array<std::string, kBoardRows>;

// A board from its rows as the spec draws them, padded with ' ' to 11 columns; the player's
// '+' and any object characters are left in (chapters read them, then clear them).
Board board_from(const std::vector<std::string>& rows);

using Rgb = std::array<uint8_t, 3>;
// §1.2.5: the colours of the fixed characters, from the 0–1000 scale by c · 255 / 1000
// rounded down. `palette` maps every character a game draws.
using Palette = std::array<Rgb, 128>;
Palette base_palette();
// The three colours of Visual Match's door symbols (§1.3): red, green, blue.
inline constexpr std::array<Rgb, 3> kPrimaryColours = {Rgb{255, 0, 0}, Rgb{0, 255, 0}, Rgb{0, 0, 255}};

// The letter for cell (row, col) of a view, read back from its colour through the palette:
// '.' floor or background, '#' wall, '@' player, 'a' apple, 'k' key, 'D' door, 'i' the
// key-pickup indicator, 'R' 'G' 'B' the primary colours, '?' anything else.
char view_glyph(const Observation& view, int row, int col);

// The 5x5 window centred on `player`, cells off the board drawn as background, as 75
// numbers: channel-major, then row, then column (obs[ch·25 + row·5 + col]), 0..255.
Observation crop_observation(const Board& board, Cell player, const Palette& palette);

// Where `action` takes a player at `from`: the next cell, unless it is off the board or a
// wall of `walls`.
Cell move_on(const Board& walls, Cell from, int action);
// The cells that are not walls, for first_step_towards.
std::function<bool(Cell)> not_wall(const Board& walls);

// The first action of a shortest path from `from` to `to` through cells `free` accepts
// (4-connected, on the board), or −1 when there is none or from == to. Ties go to the
// lowest action number, so the answer is deterministic.
int first_step_towards(Cell from, Cell to, const std::function<bool(Cell)>& free);

// One chapter of a grid episode.
class Chapter {
 public:
  virtual ~Chapter() = default;
  virtual int length() const = 0;  // actions
  // One action; `frame` is the index of the frame it produces (1 .. length()). Returns
  // the reward it earned.
  virtual double act(int action, int frame) = 0;
  virtual Board board() const = 0;  // what is visible now, player included
  virtual Cell player() const = 0;
  virtual int expert_action() const = 0;
};

// The distractor chapter (§1.2.7): 10 of the 22 apple cells, chosen at random; an apple
// pays `apple_reward` when the player stands on it after an action, disappears, and
// returns in the 21st frame after (frame > pickup + 20), to be taken again on a later
// action that leaves the player on it.
class DistractorChapter final : public Chapter {
 public:
  DistractorChapter(int length, ExampleRng& rng);
  int length() const override { return length_; }
  double act(int action, int frame) override;
  Board board() const override;
  Cell player() const override { return player_; }
  int expert_action() const override;  // towards the nearest apple

 private:
  struct Apple {
    Cell cell;
    bool visible = true;
    int picked_at = 0;
  };
  int length_;
  Board walls_;
  Cell player_;
  std::vector<Apple> apples_;
};

// An episode of three chapters, explore, distractor and reward, as an Env; the games give
// their explore and reward chapters.
class GridEnv : public Env {
 public:
  Observation reset(Split split, uint64_t episode) override;
  Step step(int action) override;
  int64_t observation_size() const override { return 3 * kCrop * kCrop; }
  int64_t episode_length() const override { return explore_ + distractor_ + reward_; }
  std::string name() const override { return game_ + "-" + std::to_string(distractor_); }
  bool is_image() const override { return true; }
  int expert_action() const override;

  // The chapter now playing: its index (0-based, for tests) and the chapter itself.
  int chapter_index() const { return chapter_; }
  const Chapter& chapter() const { return *chapters_.at(size_t(chapter_)); }

 protected:
  // `explore` and `reward`: the lengths of the game's chapters, in actions.
  GridEnv(std::string game, int explore, int64_t distractor_length, int reward, uint64_t seed);
  // The episode's explore chapter, drawn from `rng` (the distractor's apples are drawn
  // after it), and its reward chapter.
  virtual std::unique_ptr<Chapter> explore_chapter(ExampleRng& rng) = 0;
  virtual std::unique_ptr<Chapter> reward_chapter() = 0;

  Palette palette_ = base_palette();  // a game adds its own colours

 private:
  Observation observe() const;

  std::string game_;
  int explore_, reward_;
  int64_t distractor_;
  uint64_t seed_;
  std::vector<std::unique_ptr<Chapter>> chapters_;
  int chapter_ = 0;
  int frame_ = 0;              // of the chapter playing
  double last_chapter_reward_ = 0;
  bool done_ = true;
};

}  // namespace hqlt::train::rl
