// Is one statx per item the floor, or can batching beat it? The steady state costs one statx per
// item; issue 12 asks whether io_uring's IORING_OP_STATX (many statx per system call) beats plain
// statx, one thread or several. Measured here over the same files, warm cache:
//
//   BM_Statx/threads:N     statx(2) per file, the files split over N threads (what the walker does)
//   BM_IoUringStatx/B      IORING_OP_STATX, B requests per io_uring_enter(2), one thread
//
// io_uring is driven with raw system calls (no liburing: the question is only whether it wins).
// The files are made once in a scratch folder below /var/tmp and removed at exit.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

constexpr int kFiles = 20000;

// kFiles empty files in a scratch folder, made on first use.
class Tree {
 public:
  static const Tree& Get() {
    static const Tree tree;
    return tree;
  }
  int dir_fd() const { return dir_fd_; }
  const std::vector<std::string>& names() const { return names_; }
  ~Tree() {
    close(dir_fd_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

 private:
  Tree() {
    char tmpl[] = "/var/tmp/xoi-statx-bench.XXXXXX";
    path_ = mkdtemp(tmpl);
    for (int i = 0; i < kFiles; ++i) {
      names_.push_back(std::to_string(i) + ".json");
      std::ofstream(path_ + "/" + names_.back());
    }
    dir_fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  std::string path_;
  std::vector<std::string> names_;
  int dir_fd_ = -1;
};

constexpr unsigned kMask =
    STATX_TYPE | STATX_MODE | STATX_INO | STATX_NLINK | STATX_CTIME | STATX_BTIME;

void BM_Statx(benchmark::State& state) {
  const Tree& tree = Tree::Get();
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::atomic<int> failed{0};
    auto work = [&](int t) {
      struct statx st;
      for (int i = t; i < kFiles; i += threads) {
        if (statx(tree.dir_fd(), tree.names()[i].c_str(), AT_SYMLINK_NOFOLLOW, kMask, &st) != 0) {
          ++failed;
        }
      }
    };
    std::vector<std::thread> workers;
    for (int t = 1; t < threads; ++t) workers.emplace_back(work, t);
    work(0);
    for (std::thread& w : workers) w.join();
    if (failed > 0) state.SkipWithError("statx failed");
  }
  state.SetItemsProcessed(state.iterations() * kFiles);
}
BENCHMARK(BM_Statx)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// A minimal io_uring: one submission ring, one completion ring.
class Ring {
 public:
  explicit Ring(unsigned entries) {
    io_uring_params p{};
    fd_ = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    if (fd_ < 0) return;
    sq_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    sq_ = mmap(nullptr, sq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
               IORING_OFF_SQ_RING);
    cq_ = mmap(nullptr, cq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
               IORING_OFF_CQ_RING);
    sqes_ = static_cast<io_uring_sqe*>(mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe),
                                            PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                                            IORING_OFF_SQES));
    sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
    auto at = [](void* base, unsigned off) { return static_cast<char*>(base) + off; };
    sq_tail_ = reinterpret_cast<std::atomic<unsigned>*>(at(sq_, p.sq_off.tail));
    sq_mask_ = *reinterpret_cast<unsigned*>(at(sq_, p.sq_off.ring_mask));
    sq_array_ = reinterpret_cast<unsigned*>(at(sq_, p.sq_off.array));
    cq_head_ = reinterpret_cast<std::atomic<unsigned>*>(at(cq_, p.cq_off.head));
    cq_tail_ = reinterpret_cast<std::atomic<unsigned>*>(at(cq_, p.cq_off.tail));
    cq_mask_ = *reinterpret_cast<unsigned*>(at(cq_, p.cq_off.ring_mask));
    cqes_ = reinterpret_cast<io_uring_cqe*>(at(cq_, p.cq_off.cqes));
  }
  ~Ring() {
    if (fd_ < 0) return;
    munmap(sqes_, sqes_size_);
    munmap(cq_, cq_size_);
    munmap(sq_, sq_size_);
    close(fd_);
  }
  bool ok() const { return fd_ >= 0 && sq_ != MAP_FAILED && cq_ != MAP_FAILED; }

  // Queues a statx of `name` below `dir_fd` into `out`.
  void Statx(int dir_fd, const char* name, struct statx* out) {
    const unsigned tail = sq_tail_->load(std::memory_order_relaxed);
    const unsigned slot = tail & sq_mask_;
    io_uring_sqe& sqe = sqes_[slot];
    std::memset(&sqe, 0, sizeof(sqe));
    sqe.opcode = IORING_OP_STATX;
    sqe.fd = dir_fd;
    sqe.addr = reinterpret_cast<uint64_t>(name);
    sqe.len = kMask;
    sqe.off = reinterpret_cast<uint64_t>(out);
    sqe.statx_flags = AT_SYMLINK_NOFOLLOW;
    sq_array_[slot] = slot;
    sq_tail_->store(tail + 1, std::memory_order_release);
    ++queued_;
  }

  // Submits what was queued and waits for all of it; returns the number of failed requests, or
  // -1 when io_uring_enter failed.
  int SubmitAndWait() {
    const unsigned n = queued_;
    queued_ = 0;
    if (syscall(__NR_io_uring_enter, fd_, n, n, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) return -1;
    int failed = 0;
    for (unsigned done = 0; done < n;) {
      unsigned head = cq_head_->load(std::memory_order_relaxed);
      const unsigned tail = cq_tail_->load(std::memory_order_acquire);
      if (head == tail) {
        if (syscall(__NR_io_uring_enter, fd_, 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) {
          return -1;
        }
        continue;
      }
      for (; head != tail; ++head, ++done) failed += cqes_[head & cq_mask_].res < 0 ? 1 : 0;
      cq_head_->store(head, std::memory_order_release);
    }
    return failed;
  }

 private:
  int fd_ = -1;
  void* sq_ = MAP_FAILED;
  void* cq_ = MAP_FAILED;
  io_uring_sqe* sqes_ = nullptr;
  size_t sq_size_ = 0, cq_size_ = 0, sqes_size_ = 0;
  std::atomic<unsigned>* sq_tail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* sq_array_ = nullptr;
  std::atomic<unsigned>* cq_head_ = nullptr;
  std::atomic<unsigned>* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  unsigned queued_ = 0;
};

void BM_IoUringStatx(benchmark::State& state) {
  const Tree& tree = Tree::Get();
  const unsigned batch = static_cast<unsigned>(state.range(0));
  Ring ring(batch);
  if (!ring.ok()) {
    state.SkipWithError("io_uring_setup failed (disabled by kernel.io_uring_disabled?)");
    return;
  }
  std::vector<struct statx> out(batch);
  for (auto _ : state) {
    for (int i = 0; i < kFiles;) {
      unsigned n = 0;
      for (; n < batch && i < kFiles; ++n, ++i) {
        ring.Statx(tree.dir_fd(), tree.names()[i].c_str(), &out[n]);
      }
      if (ring.SubmitAndWait() != 0) {
        state.SkipWithError("IORING_OP_STATX failed");
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kFiles);
}
BENCHMARK(BM_IoUringStatx)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
