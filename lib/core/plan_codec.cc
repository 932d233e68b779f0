#include "lib/core/plan_codec.h"

#include <cstdint>

namespace xoi {
namespace {

class Writer {
 public:
  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Bool(bool b) { U64(b ? 1 : 0); }
  void Str(absl::string_view s) {
    U64(s.size());
    out_.append(s.data(), s.size());
  }
  // Infinite times are kept as such (absl saturates them to finite nanoseconds otherwise).
  void Time(absl::Time t) {
    if (t == absl::InfiniteFuture()) return U64(1);
    if (t == absl::InfinitePast()) return U64(2);
    U64(0);
    I64(absl::ToUnixNanos(t));
  }
  void Duration(absl::Duration d) { I64(absl::ToInt64Nanoseconds(d)); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool U64(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool U32(uint32_t* v) {
    uint64_t wide = 0;
    if (!U64(&wide) || wide > UINT32_MAX) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t z = 0;
    if (!U64(&z)) return false;
    *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    return true;
  }
  bool Bool(bool* b) {
    uint64_t v = 0;
    if (!U64(&v) || v > 1) return false;
    *b = v == 1;
    return true;
  }
  bool Str(std::string* s) {
    uint64_t n = 0;
    if (!U64(&n) || n > in_.size()) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Time(absl::Time* t) {
    uint64_t tag = 0;
    int64_t ns = 0;
    if (!U64(&tag) || tag > 2) return false;
    if (tag == 1) *t = absl::InfiniteFuture();
    if (tag == 2) *t = absl::InfinitePast();
    if (tag != 0) return true;
    if (!I64(&ns)) return false;
    *t = absl::FromUnixNanos(ns);
    return true;
  }
  bool Duration(absl::Duration* d) {
    int64_t ns = 0;
    if (!I64(&ns)) return false;
    *d = absl::Nanoseconds(ns);
    return true;
  }
  template <typename E>
  bool Enum(E* e, uint64_t last) {
    uint64_t v = 0;
    if (!U64(&v) || v > last) return false;
    *e = static_cast<E>(v);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

}  // namespace

std::string EncodePlanEntry(const PlanEntry& e) {
  const Action& a = e.action;
  const FileStat& st = a.stat;
  Writer w;
  w.U64(static_cast<uint64_t>(a.kind));
  w.Str(a.path);
  w.Bool(a.tree);
  w.U64(st.mode);
  w.U64(st.ino);
  w.U64(st.dev);
  w.U64(st.nlink);
  w.U64(st.size);
  w.Time(st.ctime);
  w.Time(st.birth);
  w.U64((st.has_btime ? 1u : 0u) | (st.immutable ? 2u : 0u) | (st.immutable_known ? 4u : 0u) |
        (st.mount_root ? 8u : 0u));
  w.Bool(a.indexed);
  w.Time(a.reference);
  w.Duration(a.clock_lag);
  w.Time(a.locked_at);
  w.Time(a.members_locked_by);
  w.Time(a.members_expired_before);
  w.Time(a.expires_at);
  w.Str(a.reason);
  w.Str(a.content);
  w.Bool(a.requires_all_lifts);
  w.Bool(a.overdue);
  w.Bool(a.forget_record);
  w.Bool(e.executed);
  w.U64(static_cast<uint64_t>(e.outcome));
  w.Str(e.detail);
  return w.Take();
}

std::optional<PlanEntry> DecodePlanEntry(absl::string_view bytes) {
  Reader r(bytes);
  PlanEntry e;
  Action& a = e.action;
  FileStat& st = a.stat;
  uint64_t stat_flags = 0;
  const bool ok =
      r.Enum(&a.kind, static_cast<uint64_t>(ActionKind::kHold)) && r.Str(&a.path) &&
      r.Bool(&a.tree) && r.U32(&st.mode) && r.U64(&st.ino) && r.U64(&st.dev) && r.U32(&st.nlink) &&
      r.U64(&st.size) && r.Time(&st.ctime) && r.Time(&st.birth) && r.U64(&stat_flags) &&
      stat_flags < 16 && r.Bool(&a.indexed) && r.Time(&a.reference) && r.Duration(&a.clock_lag) &&
      r.Time(&a.locked_at) && r.Time(&a.members_locked_by) && r.Time(&a.members_expired_before) &&
      r.Time(&a.expires_at) && r.Str(&a.reason) && r.Str(&a.content) &&
      r.Bool(&a.requires_all_lifts) && r.Bool(&a.overdue) && r.Bool(&a.forget_record) &&
      r.Bool(&e.executed) && r.Enum(&e.outcome, static_cast<uint64_t>(Outcome::kSkipped)) &&
      r.Str(&e.detail) && r.done();
  if (!ok) return std::nullopt;
  st.has_btime = (stat_flags & 1) != 0;
  st.immutable = (stat_flags & 2) != 0;
  st.immutable_known = (stat_flags & 4) != 0;
  st.mount_root = (stat_flags & 8) != 0;
  return e;
}

}  // namespace xoi
