#pragma once
// Ctrl-C during training: the first SIGINT (or SIGTERM) only raises a flag, which the
// training loop checks between steps to save a checkpoint and exit cleanly; the handler
// then restores the default action, so a second Ctrl-C stops the process at once.
namespace hqlt::train {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool interrupted();
void clear_interrupt();

}  // namespace hqlt::train
