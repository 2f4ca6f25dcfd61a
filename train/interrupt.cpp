#include "train/interrupt.h"

#include <csignal>

namespace hqlt::train {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_previous_int, g_previous_term;

extern "C" void on_signal(int signal) {
  g_interrupted = 1;
  std::signal(signal, SIG_DFL);  // a second Ctrl-C is not caught
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool interrupted() { return g_interrupted != 0; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace hqlt::train
