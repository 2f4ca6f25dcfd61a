#include "cli/omp_spin.h"

#include <unistd.h>

#include <cstdlib>

namespace hqlt::cli {

void restart_with_short_omp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (::setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GOMP_SPINCOUNT");  // exec failed (no /proc): run on with libgomp's default
}

}  // namespace hqlt::cli
