#pragma once
// Running the hqlt program as a user would, from a test: a child process with its stdout
// discarded and its stderr kept in a file, optionally limited before it starts (a maximum
// file size to play a full disk, another user to make a folder's permissions bite even
// when the tests run as root).
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace hqlt::testing {

struct ChildLimits {
  long max_file_bytes = -1;  // RLIMIT_FSIZE; a write past it fails with EFBIG, as on a full disk
  bool as_nobody = false;    // when root: run as uid/gid 65534, so permission bits apply
  bool user_omp_env = false; // keep OMP_WAIT_POLICY and GOMP_SPINCOUNT unset, as in a user's shell
};

// Starts `hqlt <args>`; its stderr goes to stderr_path ("" discards it). Returns the pid.
inline pid_t spawn_hqlt(const std::vector<std::string>& args, const std::string& stderr_path = "",
                        ChildLimits limits = {}) {
  std::vector<std::string> argv_strings{HQLT_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  std::freopen("/dev/null", "w", stdout);
  std::freopen(stderr_path.empty() ? "/dev/null" : stderr_path.c_str(), "w", stderr);
  if (limits.user_omp_env) {
    ::unsetenv("OMP_WAIT_POLICY");
    ::unsetenv("GOMP_SPINCOUNT");
  } else {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
  }
  if (limits.max_file_bytes >= 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing the process
    const rlimit limit{rlim_t(limits.max_file_bytes), rlim_t(limits.max_file_bytes)};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(126);
  }
  if (limits.as_nobody && ::geteuid() == 0) {
    const gid_t nogroup = 65534;
    if (::setgroups(1, &nogroup) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Waits for pid and returns its exit status; -1 when a signal ended it.
inline int exit_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace hqlt::testing
