#include "lib/fs/spool.h"

#include <fcntl.h>

#include <algorithm>
#include <memory>
#include <queue>

#include "absl/strings/str_cat.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

// What one buffered record costs besides its bytes (two strings and a pair).
constexpr size_t kRecordOverhead = 80;
constexpr size_t kReadBuffer = size_t{64} << 10;

void PutLength(std::string* out, uint64_t n) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(n >> (8 * i)));
}

uint64_t GetLength(absl::string_view in) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<uint8_t>(in[i]);
  return n;
}

// Reads one run back, record by record, through a buffer.
class RunReader {
 public:
  RunReader(FileSystem& fs, int fd, uint64_t bytes) : fs_(fs), fd_(fd), bytes_(bytes) {}

  // The next record; false at the end or on an error (in status()).
  bool Next() {
    if (offset_ + consumed_ >= bytes_) return false;
    std::string lengths;
    if (!Take(16, &lengths)) return false;
    const uint64_t key_size = GetLength(lengths), value_size = GetLength(lengths.substr(8));
    return Take(key_size, &key_) && Take(value_size, &value_);
  }
  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  const absl::Status& status() const { return status_; }

 private:
  bool Take(uint64_t n, std::string* out) {
    out->clear();
    while (out->size() < n) {
      if (consumed_ == buffer_.size()) {
        offset_ += buffer_.size();
        consumed_ = 0;
        const uint64_t want = std::min<uint64_t>(kReadBuffer, bytes_ - offset_);
        if (want == 0) {
          status_ = absl::DataLossError("a spool run ended in the middle of a record");
          return false;
        }
        buffer_.resize(want);
        absl::Status read = fs_.PRead(fd_, offset_, buffer_.data(), want, "(spool)");
        if (!read.ok()) {
          status_ = read;
          return false;
        }
      }
      const size_t part = std::min<uint64_t>(n - out->size(), buffer_.size() - consumed_);
      out->append(buffer_, consumed_, part);
      consumed_ += part;
    }
    return true;
  }

  FileSystem& fs_;
  const int fd_;
  const uint64_t bytes_;
  uint64_t offset_ = 0;  // of buffer_ in the run
  std::string buffer_;
  size_t consumed_ = 0;
  std::string key_, value_;
  absl::Status status_;
};

}  // namespace

Spool::Spool(FileSystem& fs, std::string dir, size_t memory_budget)
    : fs_(fs), dir_(std::move(dir)), budget_(memory_budget) {}

absl::Status Spool::Add(absl::string_view key, absl::string_view value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string ordered(key);
  PutLength(&ordered, count_++);
  buffered_bytes_ += ordered.size() + value.size() + kRecordOverhead;
  buffer_.emplace_back(std::move(ordered), std::string(value));
  return buffered_bytes_ > budget_ ? SpillLocked() : absl::OkStatus();
}

absl::Status Spool::SpillLocked() {
  std::sort(buffer_.begin(), buffer_.end());
  if (!dir_fd_.valid()) {
    XOI_ASSIGN_OR_RETURN(dir_fd_, fs_.OpenDirByPath(dir_));
  }
  XOI_ASSIGN_OR_RETURN(Fd fd, fs_.CreateAt(dir_fd_.get(), ".", O_TMPFILE | O_RDWR, 0600,
                                           absl::StrCat(dir_, " (spool)")));
  Run run{std::move(fd)};
  std::string chunk;
  for (size_t i = 0; i <= buffer_.size(); ++i) {
    if (i < buffer_.size()) {
      const auto& [key, value] = buffer_[i];
      PutLength(&chunk, key.size());
      PutLength(&chunk, value.size());
      chunk += key;
      chunk += value;
    }
    if (chunk.size() >= kReadBuffer || (i == buffer_.size() && !chunk.empty())) {
      XOI_RETURN_IF_ERROR(fs_.Append(run.fd.get(), chunk, absl::StrCat(dir_, " (spool)")));
      run.bytes += chunk.size();
      chunk.clear();
    }
  }
  runs_.push_back(std::move(run));
  buffer_.clear();
  buffer_.shrink_to_fit();
  buffered_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status Spool::ForEach(
    const std::function<bool(absl::string_view key, absl::string_view value)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  std::sort(buffer_.begin(), buffer_.end());
  // A k-way merge: the runs on disk, and what is still in memory.
  std::vector<std::unique_ptr<RunReader>> readers;
  for (const Run& run : runs_) {
    readers.push_back(std::make_unique<RunReader>(fs_, run.fd.get(), run.bytes));
  }
  size_t in_memory = 0;
  auto key_of = [&](size_t source) -> absl::string_view {
    return source < readers.size() ? absl::string_view(readers[source]->key())
                                   : absl::string_view(buffer_[in_memory].first);
  };
  auto later = [&](size_t a, size_t b) { return key_of(a) > key_of(b); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t i = 0; i < readers.size(); ++i) {
    if (readers[i]->Next()) heap.push(i);
    XOI_RETURN_IF_ERROR(readers[i]->status());
  }
  if (!buffer_.empty()) heap.push(readers.size());
  while (!heap.empty()) {
    const size_t source = heap.top();
    heap.pop();
    absl::string_view key = key_of(source);
    key.remove_suffix(8);
    if (source < readers.size()) {
      if (!fn(key, readers[source]->value())) return absl::OkStatus();
      if (readers[source]->Next()) heap.push(source);
      XOI_RETURN_IF_ERROR(readers[source]->status());
    } else {
      if (!fn(key, buffer_[in_memory].second)) return absl::OkStatus();
      if (++in_memory < buffer_.size()) heap.push(source);
    }
  }
  return absl::OkStatus();
}

}  // namespace xoi
