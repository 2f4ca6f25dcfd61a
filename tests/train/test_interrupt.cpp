// Ctrl-C during training: the first SIGINT only raises the flag the training loop polls
// between steps (the loop's stop-and-checkpoint path is tested with stop_at in
// test_trainer.cpp, which takes the same exit).
#include <doctest/doctest.h>

#include <csignal>

#include "train/interrupt.h"

using namespace hqlt;
using namespace hqlt::train;

TEST_SUITE("unit") {
  TEST_CASE("the first SIGINT raises the flag instead of ending the process") {
    {
      InterruptGuard guard;
      CHECK_FALSE(interrupted());
      std::raise(SIGINT);  // without the guard this would end the test run
      CHECK(interrupted());
      clear_interrupt();
      CHECK_FALSE(interrupted());
    }
    CHECK_FALSE(interrupted());
  }
}
