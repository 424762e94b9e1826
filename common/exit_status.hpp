// What a child process's wait status means as a shell would report it.
#pragma once

#include <sys/wait.h>

namespace crawl {

// The exit code of a child that exited, 128 + the signal number of one a signal ended (as a shell
// reports it), or -1.
inline int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace crawl
