#include "train/rl/key_to_door.h"

#include "engine/error.h"

namespace hqlt::train::rl {

namespace {

constexpr int kExplore = 15, kReward = 10;
constexpr double kFinalReward = 5;

// Walls, and the cells one character marks.
Board walls_and(const std::vector<std::string>& rows, char mark, std::vector<Cell>& marked) {
  Board b = board_from(rows);
  for (int r = 0; r < kBoardRows; ++r)
    for (int c = 0; c < kBoardCols; ++c) {
      char& ch = b[size_t(r)][size_t(c)];
      if (ch == mark) marked.push_back({r, c});
      if (ch != '#') ch = ' ';
    }
  return b;
}

class ExploreChapter final : public Chapter {
 public:
  ExploreChapter(bool& has_key, ExampleRng& rng) : has_key_(has_key) {
    const std::vector<std::string> rows = {"  #######", "  #kkkkk#", "  #kkkkk#", "  ##   ##",
                                           "  #+++++#", "  #+++++#", "  #######"};
    std::vector<Cell> keys, starts;
    walls_ = walls_and(rows, 'k', keys);
    walls_and(rows, '+', starts);
    key_ = keys[size_t(rng.integer(0, int64_t(keys.size()) - 1))];
    player_ = starts[size_t(rng.integer(0, int64_t(starts.size()) - 1))];
  }
  int length() const override { return kExplore; }
  double act(int action, int) override {
    player_ = move_on(walls_, player_, action);
    indicator_ = false;
    if (!has_key_ && player_ == key_) has_key_ = indicator_ = true;  // no reward
    return 0;
  }
  Board board() const override {
    Board b = walls_;
    if (!has_key_) b[size_t(key_.row)][size_t(key_.col)] = 'k';
    b[size_t(player_.row)][size_t(player_.col)] = '+';
    if (indicator_) b[0][5] = 'i';  // the one frame that shows the pickup
    return b;
  }
  Cell player() const override { return player_; }
  int expert_action() const override {
    if (has_key_) return 0;
    return std::max(0, first_step_towards(player_, key_, not_wall(walls_)));
  }

 private:
  bool& has_key_;
  Board walls_;
  Cell key_, player_;
  bool indicator_ = false;
};

// The door at (1, 5), the player at (3, 5): without the key the door is a wall; with it the
// player steps onto it, is paid once, and the key is spent. The door stays drawn, above
// the player.
class RewardChapter final : public Chapter {
 public:
  explicit RewardChapter(bool& has_key) : has_key_(has_key) {
    std::vector<Cell> doors, starts;
    const std::vector<std::string> rows = {"", "   ##d##", "   #   #", "   # + #", "   #   #", "   #####"};
    walls_ = walls_and(rows, 'd', doors);
    walls_and(rows, '+', starts);
    door_ = doors.at(0), player_ = starts.at(0);
  }
  int length() const override { return kReward; }
  double act(int action, int) override {
    const Cell next = move_on(walls_, player_, action);
    if (!(next == door_ && !has_key_)) player_ = next;  // the locked door is a wall
    if (player_ == door_ && has_key_) {
      has_key_ = false;
      return kFinalReward;
    }
    return 0;
  }
  Board board() const override {
    Board b = walls_;
    b[size_t(player_.row)][size_t(player_.col)] = '+';
    b[size_t(door_.row)][size_t(door_.col)] = 'd';
    return b;
  }
  Cell player() const override { return player_; }
  int expert_action() const override {
    if (!has_key_ || player_ == door_) return 1;  // nothing to gain: stay away from the door
    return std::max(0, first_step_towards(player_, door_, not_wall(walls_)));
  }

 private:
  bool& has_key_;
  Board walls_;
  Cell door_, player_;
};

}  // namespace

KeyToDoor::KeyToDoor(int64_t distractor_length, uint64_t seed)
    : GridEnv("key_to_door", kExplore, distractor_length, kReward, seed) {}

std::unique_ptr<Chapter> KeyToDoor::explore_chapter(ExampleRng& rng) {
  has_key_ = false;
  return std::make_unique<ExploreChapter>(has_key_, rng);
}

std::unique_ptr<Chapter> KeyToDoor::reward_chapter() { return std::make_unique<RewardChapter>(has_key_); }

}  // namespace hqlt::train::rl
