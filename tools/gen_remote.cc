// gen_remote: builds an XO backup remote of any size, as Xen Orchestra lays it out, for tests and
// benchmarks. Optionally adds runs still in progress and a hostile set of odd entries (symlinks
// out of the remote, hard links, FIFOs, decoys, names that are not UTF-8).
//
// With --manifest FILE it writes, NUL-separated, every remote-relative path that a run with
// settle 0 must leave immutable (members of VHD directories included): the oracle the
// integration tests compare against, written from the layout's intent, not from the engine.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string root;
  std::string outside;  // a folder outside the remote, same filesystem (for --hostile)
  std::string manifest;
  int vms = 3;
  int runs = 4;
  int vdis = 2;
  int blocks = 8;
  int config_backups = 2;
  int pool_backups = 2;
  uint64_t seed = 1;
  bool in_progress = false;
  bool hostile = false;
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "gen_remote: " << what << ": " << strerror(errno) << "\n";
  std::exit(1);
}

class Generator {
 public:
  explicit Generator(const Options& o) : o_(o), rng_(o.seed * 0x9E3779B97F4A7C15ull + 1) {}

  void Run() {
    MkdirP(o_.root);
    File("metadata.json", "{\"encrypted\":false}", true);  // XO initialised the remote
    for (int v = 0; v < o_.vms; ++v) Vm(v);
    for (int c = 0; c < o_.config_backups; ++c) ConfigBackup(c);
    for (int p = 0; p < o_.pool_backups; ++p) PoolBackup(p);
    if (o_.in_progress) InProgress();
    if (o_.hostile) Hostile();
    if (!o_.manifest.empty()) {
      std::ofstream out(o_.manifest, std::ios::binary);
      for (const std::string& p : expected_) out << p << '\0';
      if (!out) Die("write " + o_.manifest);
    }
  }

 private:
  std::string Uuid() {
    char buf[40];
    const uint64_t a = Next(), b = Next();
    snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
             static_cast<unsigned>(a >> 16) & 0xffff, static_cast<unsigned>(a) & 0xffff,
             static_cast<unsigned>(b >> 48),
             static_cast<unsigned long long>(b & 0xffffffffffffull));
    return buf;
  }
  uint64_t Next() {  // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 2685821657736338717ull;
  }
  // XO's run timestamp for the `day`-th day after 2026-10-01, at `hour`: a real calendar date, so
  // that any number of runs stays parseable.
  static std::string Timestamp(int day, int hour) {
    static const int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = 2026, month = 9;
    while (day >= kDaysInMonth[month] + (month == 1 && year % 4 == 0 ? 1 : 0)) {
      day -= kDaysInMonth[month] + (month == 1 && year % 4 == 0 ? 1 : 0);
      if (++month == 12) {
        month = 0;
        ++year;
      }
    }
    char buf[64];  // room for any int, so that the compiler can prove nothing is cut
    snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d0000Z", year, month + 1, day + 1, hour);
    return buf;
  }

  std::string Abs(const std::string& rel) const { return o_.root + "/" + rel; }
  void MkdirP(const std::string& path) {
    for (size_t i = 1; i <= path.size(); ++i) {
      if (i == path.size() || path[i] == '/') {
        const std::string prefix = path.substr(0, i);
        if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) Die("mkdir " + prefix);
      }
    }
  }
  void Dir(const std::string& rel, bool expect) {
    MkdirP(Abs(rel));
    if (expect) expected_.push_back(rel);
  }
  void File(const std::string& rel, const std::string& content, bool expect) {
    const std::string path = Abs(rel);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Die("create " + path);
    if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
      Die("write " + path);
    }
    close(fd);
    if (expect) expected_.push_back(rel);
  }

  // A VHD directory: header, footer, bat, chunk-filters.json and blocks/<n>/<m>.
  void VhdDirectory(const std::string& rel, bool expect) {
    Dir(rel, false);
    Dir(rel + "/blocks", false);
    for (int b = 0; b < o_.blocks; ++b) {
      const std::string group = rel + "/blocks/" + std::to_string(b / 64);
      if (b % 64 == 0) Dir(group, expect);
      File(group + "/" + std::to_string(b), std::string(64, 'b'), expect);
    }
    File(rel + "/header", std::string(512, 'h'), expect);
    File(rel + "/footer", std::string(512, 'f'), expect);
    File(rel + "/bat", std::string(64, 'a'), expect);
    File(rel + "/chunk-filters.json", "[\"none\"]", expect);
    if (expect) {
      expected_.push_back(rel + "/blocks");
      expected_.push_back(rel);
    }
  }

  // One VM folder: runs alternating XVA, VHD directories named by timestamp, VHD directories named
  // by UUID (older XO) reached through aliases, and plain VHD files.
  void Vm(int v) {
    const std::string vm = "xo-vm-backups/" + Uuid();
    const std::string job = Uuid();
    std::vector<std::string> vdis;
    for (int d = 0; d < o_.vdis; ++d) vdis.push_back(Uuid());
    vms_.push_back(vm);
    Dir(vm, false);
    for (int r = 0; r < o_.runs; ++r) {
      const std::string dt = Timestamp(r, v % 24);
      // XVA runs are full backups; VHD runs form delta chains with a key backup every 7 runs.
      WriteRun(vm, job, vdis, dt, r % 4, /*complete=*/true, /*key=*/r % 7 == 1);
    }
    File(vm + "/cache.json.gz", "cache", false);
  }

  void WriteRun(const std::string& vm, const std::string& job, const std::vector<std::string>& vdis,
                const std::string& dt, int kind, bool complete, bool key = false) {
    std::string differencing;
    if (kind == 0) {
      File(vm + "/" + dt + ".xva", std::string(4096, 'x'), complete);
      File(vm + "/" + dt + ".xva.checksum", "sha256", complete);
    } else {
      for (const std::string& vdi : vdis) {
        const std::string folder = vm + "/vdis/" + job + "/" + vdi;
        Dir(folder + "/data", false);
        if (kind == 3) {
          File(folder + "/" + dt + ".vhd", std::string(4096, 'v'), complete);
          differencing += (differencing.empty() ? "\"" : ",\"") + folder.substr(vm.size() + 1) +
                          "/" + dt + ".vhd\":" + (key ? "false" : "true");
          continue;
        }
        const std::string name = kind == 1 ? dt : Uuid();
        VhdDirectory(folder + "/data/" + name + ".vhd", complete);
        File(folder + "/" + dt + ".alias.vhd", "data/" + name + ".vhd", complete);
        differencing += (differencing.empty() ? "\"" : ",\"") + folder.substr(vm.size() + 1) + "/" +
                        dt + ".alias.vhd\":" + (key ? "false" : "true");
      }
    }
    // The run's metadata, written last, as XO does: "mode", and for delta runs which disks are
    // differencing (a run with none is a key backup).
    const std::string metadata =
        kind == 0 ? "{\"mode\":\"full\"}"
                  : "{\"mode\":\"delta\",\"isVhdDifferencing\":{" + differencing + "}}";
    if (complete) File(vm + "/" + dt + ".json", metadata, true);
  }

  void ConfigBackup(int c) {
    const std::string dir = "xo-config-backups/" + Uuid() + "/" + Timestamp(c, 3);
    Dir(dir, false);
    File(dir + "/data", std::string(2048, 'c'), true);
    File(dir + "/data.json", "{}", true);
    File(dir + "/metadata.json", "{}", true);
  }

  void PoolBackup(int p) {
    const std::string dir =
        "xo-pool-metadata-backups/" + Uuid() + "/" + Uuid() + "/" + Timestamp(p, 4);
    Dir(dir, false);
    File(dir + "/data", std::string(2048, 'p'), true);
    File(dir + "/metadata.json", "{}", true);
  }

  // Runs whose metadata has not been written yet: nothing of them may be locked (orphanGrace 1h).
  void InProgress() {
    if (vms_.empty()) return;
    const std::vector<std::string> vdis = {Uuid()};
    WriteRun(vms_[0], Uuid(), vdis, "20261130T230000Z", 1, /*complete=*/false);
    WriteRun(vms_[0], Uuid(), vdis, "20261130T230001Z", 0, /*complete=*/false);
    const std::string dir = "xo-config-backups/" + Uuid() + "/20261130T230000Z";
    Dir(dir, false);
    File(dir + "/data", "partial", false);
  }

  void Symlink(const std::string& target, const std::string& rel) {
    if (symlink(target.c_str(), Abs(rel).c_str()) != 0) Die("symlink " + rel);
  }

  void Hostile() {
    if (o_.outside.empty() || vms_.empty()) {
      errno = EINVAL;
      Die("--hostile needs --outside DIR and at least one VM");
    }
    MkdirP(o_.outside + "/vm");
    const std::string vm = vms_[0];
    // Symlinks pointing out of the remote: a VM folder, a backup file, a VHD directory, and a
    // symlink inside a VHD directory (the directory is locked without it: a symlink cannot be
    // locked, and inside a locked folder it cannot be replaced).
    const std::string out_vm = o_.outside + "/vm";
    FileAt(out_vm + "/20260101T000000Z.json");
    FileAt(out_vm + "/20260101T000000Z.xva");
    Symlink(out_vm, "xo-vm-backups/" + Uuid());
    FileAt(o_.outside + "/target.xva");
    Symlink(o_.outside + "/target.xva", vm + "/20260102T000000Z.xva");
    File(vm + "/20260102T000000Z.json", "{}", true);
    const std::string folder = vm + "/vdis/" + Uuid() + "/" + Uuid();
    Dir(folder + "/data", false);
    MkdirP(o_.outside + "/vhd");
    Symlink(o_.outside + "/vhd", folder + "/data/20260103T000000Z.vhd");
    VhdDirectory(folder + "/data/20260104T000000Z.vhd", true);
    Symlink(o_.outside, folder + "/data/20260104T000000Z.vhd/blocks/escape");
    File(vm + "/20260104T000000Z.json", "{}", true);
    File(vm + "/20260103T000000Z.json", "{}", true);
    // A hard link to a file outside the remote, and a FIFO named like a backup.
    FileAt(o_.outside + "/hardlinked");
    if (link((o_.outside + "/hardlinked").c_str(), Abs(vm + "/20260105T000000Z.xva").c_str()) !=
        0) {
      Die("link");
    }
    File(vm + "/20260105T000000Z.json", "{}", true);
    if (mkfifo(Abs(vm + "/20260106T000000Z.xva").c_str(), 0644) != 0) Die("mkfifo");
    File(vm + "/20260106T000000Z.json", "{}", true);
    // Decoys: XO's temporary and lock artefacts, and folders no glob names.
    File(vm + "/.20260107T000000Z.xva.tmp", "t", false);
    Dir(vm + "/20260107T000000Z.json.lock", false);
    File(vm + "/notes.txt", "n", false);
    Dir("other/xo-vm-backups", false);
    File("other/a.json", "{}", false);
    Dir(folder + "/data/.partial.vhd", false);
    File(folder + "/data/.partial.vhd/bat", "a", false);
    Dir(vm + "/20260108T000000Z.xva", false);  // a directory named like a backup file
    // Odd names: spaces, a newline, bytes that are not UTF-8.
    for (const std::string& stem : {std::string("20260109T000000Z odd name"),
                                    std::string("new\nline"), std::string("\xff\xfe")}) {
      File(vm + "/" + stem + ".xva", "x", true);
      File(vm + "/" + stem + ".json", "{}", true);
    }
  }

  void FileAt(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Die("create " + path);
    close(fd);
  }

  const Options& o_;
  uint64_t rng_;
  std::vector<std::string> vms_;
  std::vector<std::string> expected_;
};

int Usage() {
  std::cerr << "usage: gen_remote --root DIR [--vms N] [--runs N] [--vdis N] [--blocks N]\n"
               "                  [--config-backups N] [--pool-backups N] [--seed N]\n"
               "                  [--in-progress] [--hostile --outside DIR] [--manifest FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(Usage());
      return argv[++i];
    };
    auto number = [&]() { return std::atoi(value().c_str()); };
    if (a == "--root")
      o.root = value();
    else if (a == "--outside")
      o.outside = value();
    else if (a == "--manifest")
      o.manifest = value();
    else if (a == "--vms")
      o.vms = number();
    else if (a == "--runs")
      o.runs = number();
    else if (a == "--vdis")
      o.vdis = number();
    else if (a == "--blocks")
      o.blocks = number();
    else if (a == "--config-backups")
      o.config_backups = number();
    else if (a == "--pool-backups")
      o.pool_backups = number();
    else if (a == "--seed")
      o.seed = static_cast<uint64_t>(number());
    else if (a == "--in-progress")
      o.in_progress = true;
    else if (a == "--hostile")
      o.hostile = true;
    else
      return Usage();
  }
  if (o.root.empty() || o.root[0] != '/') return Usage();
  Generator(o).Run();
  return 0;
}
