// Threads that help the calling thread with work it can also finish alone (the walk, a tree's
// folders, the executor's items). The system may refuse a thread (systemd's TasksMax, a pids
// cgroup, RLIMIT_NPROC, memory): std::thread would then throw and end the run in std::terminate,
// every minute, with nothing locked. Here the work goes on with the threads that did start, and
// the refusal is counted so that the run can say why it was slow.
#ifndef XOI_LIB_FS_HELPER_THREADS_H_
#define XOI_LIB_FS_HELPER_THREADS_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace xoi {

class HelperThreads {
 public:
  HelperThreads() = default;
  HelperThreads(const HelperThreads&) = delete;
  HelperThreads& operator=(const HelperThreads&) = delete;
  ~HelperThreads() { JoinAll(); }

  // Runs `work` on a new thread; false when the system refused one (`work` is then not run).
  bool Start(absl::AnyInvocable<void()> work);
  void JoinAll();

 private:
  std::vector<std::thread> threads_;
};

// Threads refused since the process started, and the system's reason for the first refusal.
uint64_t RefusedHelperThreads();
std::string FirstHelperThreadRefusal();

// Makes every later Start refuse (true) or behave (false): the tests' way to be refused threads,
// since root is not subject to RLIMIT_NPROC.
void RefuseHelperThreadsForTesting(bool refuse);

}  // namespace xoi

#endif  // XOI_LIB_FS_HELPER_THREADS_H_
