#include "lib/fs/helper_threads.h"

#include <atomic>
#include <cerrno>
#include <mutex>
#include <system_error>
#include <utility>

namespace xoi {
namespace {

std::atomic<bool> refuse_for_testing{false};
std::atomic<uint64_t> refused{0};
std::mutex first_refusal_mu;
std::string first_refusal;  // guarded by first_refusal_mu

void CountRefusal(const std::string& why) {
  if (refused.fetch_add(1) != 0) return;
  std::lock_guard<std::mutex> lock(first_refusal_mu);
  first_refusal = why;
}

}  // namespace

bool HelperThreads::Start(absl::AnyInvocable<void()> work) {
  if (refuse_for_testing.load(std::memory_order_relaxed)) {
    CountRefusal(std::system_category().message(EAGAIN) + " (refused for a test)");
    return false;
  }
  // std::system_error from the kernel's refusal; std::bad_alloc for the thread's state or the
  // vector: either way the caller goes on without this helper rather than unwinding past workers
  // that wait for it.
  try {
    threads_.emplace_back(std::move(work));
    return true;
  } catch (const std::system_error& e) {
    CountRefusal(e.code().message());
  } catch (const std::exception& e) {
    CountRefusal(e.what());
  }
  return false;
}

void HelperThreads::JoinAll() {
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

uint64_t RefusedHelperThreads() { return refused.load(); }

std::string FirstHelperThreadRefusal() {
  std::lock_guard<std::mutex> lock(first_refusal_mu);
  return first_refusal;
}

void RefuseHelperThreadsForTesting(bool refuse) { refuse_for_testing.store(refuse); }

}  // namespace xoi
