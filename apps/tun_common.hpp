// What serve, connect and get share: the common options, a session (a utcp host on a TUN
// device driven by the I/O loop), connections over the host's socket calls, signals, the
// progress line and the counters printed at exit.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "driver.hpp"
#include "monitor.hpp"
#include "netlink.hpp"
#include "pcapng.hpp"
#include "report.hpp"
#include "sockaddr.hpp"
#include "tun.hpp"
#include "utcp/ip.hpp"
#include "utcp/payload.hpp"
#include "utcp/posix.h"

namespace CLI {
class App;
}

namespace utcp::apps {

struct CommonOptions {
  std::string tun;                        // device name; empty: the kernel picks one
  std::string ip;                         // utcp's address
  std::string kernel_ip;                  // CIDR for the kernel's side; empty: leave the device as it is
  double loss = 0, dup = 0, reorder = 0;  // percent
  unsigned delay_ms = 0;
  std::uint64_t seed = 1;
  std::string pcap;
  std::uint32_t mtu = 1500;
  bool offload = true;       // --no-offload: no IFF_VNET_HDR, one packet per read and write
  std::string cc = "cubic";  // congestion control of every connection (TCP_CONGESTION)
  bool timestamps = true;    // --no-timestamps: do not negotiate RFC 7323 timestamps
  bool sack = true;          // --no-sack: do not negotiate RFC 2018 SACK
  std::uint32_t sndbuf = 0;  // --sndbuf: SO_SNDBUF of every connection; 0: the stack's default
  bool verbose = false;
  // Shards: queues of a multi-queue device, each with its own host and I/O thread (serve
  // --threads; the others use one).
  unsigned threads = 1;
  // With several shards: deal new connections to the queues in turn with a steering program
  // (io/steering.hpp) instead of the kernel's flow hash (serve --no-steer keeps the hash).
  bool steer = true;
};
void add_common_options(CLI::App& cmd, CommonOptions& o);

// The common options checked before anything is opened; a UsageError (exit 2) for a device
// name Linux would refuse, an address no host can have, or a --kernel-ip that does not fit.
struct CheckedOptions {
  IpAddr ip;
  std::optional<io::Cidr> kernel;
};
CheckedOptions check_common_options(const CommonOptions& o);

// Set by SIGINT and SIGTERM; every wait in the tools checks it.
void install_signal_handlers();
bool stop_requested();

// Printing a socket address, and "HOST:PORT" / "[V6]:PORT" parsing (the conversions
// themselves: host/sockaddr.hpp).
// "10.77.0.2:80", "[fd00:77::2]:80".
std::string sockaddr_text(const sockaddr_storage& ss);
std::optional<Endpoint> parse_endpoint(std::string_view text);

class Session {
 public:
  // Checks the options (check_common_options), opens the device and the host and starts the I/O loop. The
  // kernel's side is configured by bring_up(), so a server can listen first. With
  // o.threads > 1: a multi-queue device and one shard (queue, host, I/O thread) per thread,
  // sharing nothing on the data path; a kernel or device without multiple queues gets one
  // shard and a line on stderr.
  static std::expected<std::unique_ptr<Session>, std::string> open(const CommonOptions& o);
  ~Session();

  // Assigns --kernel-ip, sets the MTU, brings the link up (when the device was created here
  // or --kernel-ip was given).
  std::expected<void, std::string> bring_up();

  std::size_t shards() const { return shards_.size(); }
  utcp_host* host(std::size_t shard = 0) const { return shards_[shard].host; }
  const IpAddr& ip() const { return ip_; }
  int family() const { return ip_.is_v4() ? AF_INET : AF_INET6; }
  const std::string& device() const { return shards_[0].tun->name(); }
  void kick(std::size_t shard = 0) { shards_[shard].driver->kick(); }
  // New connections are dealt to the shards in turn by a steering program (else the kernel's
  // flow hash picks their queue).
  bool steered() const { return steering_.has_value(); }
  // The per-socket choices of the common options (--cc), before listen or connect.
  void configure(int fd, std::size_t shard = 0);

  // Interval lines, --json and --trace for the connections of this session (Conn registers
  // with it); started by the tool once its options are known.
  void start_monitor(const ReportOptions& o);
  Monitor* monitor() const { return monitor_.get(); }
  // The first write error of --pcap, if any (the capture stops there).
  std::optional<std::string> capture_error() const;
  // The stack's counters (core Stats, drops by reason) and the driver's.
  void print_counters(std::ostream& os) const;
  // Stops the loop after letting queued segments (FIN, RST) go out.
  void shutdown();

 private:
  // One queue of the device, its host and its I/O loop.
  struct Shard {
    std::optional<io::TunDevice> tun;
    utcp_host* host = nullptr;
    std::unique_ptr<io::Driver> driver;
  };
  Session() = default;
  void print_shard(std::ostream& os, const Shard& sh) const;
  CommonOptions options_;
  IpAddr ip_;
  std::optional<io::Cidr> kernel_;
  std::vector<Shard> shards_;
  std::optional<io::TunSteering> steering_;  // the drivers point at it: ~Session stops and frees them first
  std::unique_ptr<io::PcapngWriter> pcap_;
  std::int64_t pcap_epoch_ns_ = 0;  // realtime minus monotonic, so captures carry wall-clock times
  mutable std::mutex pcap_mu_;
  bool pcap_closed_ = false;
  std::optional<std::string> pcap_error_;
  std::unique_ptr<Monitor> monitor_;
};

// A connected socket of the session's host, used non-blocking so that every call returns
// and the I/O loop can be kicked; waits are utcp_poll in slices that notice a stop signal.
class Conn {
 public:
  // `fd` is a descriptor of the session's host `shard`. A connected one is tracked by the
  // session's monitor at once; one still connecting (dial) once it is connected (track()).
  Conn(Session& s, int fd, std::size_t shard = 0, bool connected = true);
  Conn(Conn&& other) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  int fd() const { return fd_.load(); }
  // Bytes read (> 0), 0 at end of stream, -1 on error (errno; EINTR when stopped).
  ssize_t read_some(void* buf, std::size_t n);
  // Everything, or false (errno).
  bool write_all(const void* buf, std::size_t n);
  bool write_all(std::string_view s) { return write_all(s.data(), s.size()); }
  // write_all sharing the payload's storage with the send queue (Host::send(fd, Payload)): no
  // copy; its bytes must not change until the host lets them go.
  bool write_all(const Payload& data);
  bool shutdown_write();
  // A FIN after the data already written; an RST instead when a stop signal cut a write
  // short (the rest would never be sent: the process is about to go).
  void close();
  void abort();  // SO_LINGER 0: RST
  // From another thread: the waits in read_some and write_all give up (errno ECANCELED).
  void cancel() { cancelled_.store(true); }
  // How many times read_some and write_all waited for the socket (a wait may sleep).
  std::uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }

 private:
  friend std::expected<Conn, std::string> dial(Session& s, const Endpoint& to, int timeout_ms);
  // Registers the connection with the session's monitor, named by its two addresses.
  void track();
  bool wait(short events);
  void close_fd();
  utcp_host* host() const { return s_->host(shard_); }
  void kick() { s_->kick(shard_); }
  Session* s_;
  std::size_t shard_;
  std::atomic<int> fd_{-1};  // closed (-1) by one thread while another may be reading
  std::atomic<bool> write_cut_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<std::uint64_t> waits_{0};
  std::shared_ptr<ConnCounters> counters_;  // with the session's monitor
};

// A thread's scheduling so far, for the tools' -v counters: its context switches
// (/proc/self/task/TID/status), its time on a CPU and runnable but waiting for one (schedstat).
struct ThreadSched {
  std::uint64_t voluntary = 0, involuntary = 0;
  std::uint64_t run_ns = 0, wait_ns = 0;
};
std::optional<ThreadSched> thread_sched(int tid);
// "context switches V voluntary, I involuntary; on a CPU R ms, runnable W ms"
std::string to_string(const ThreadSched& t);

// Opens a connection to `to`; an error is one line ("connection refused" ...).
std::expected<Conn, std::string> dial(Session& s, const Endpoint& to, int timeout_ms);

// The "start" object of the TUN tools' --json documents: command, version, utcp's address,
// the device; each tool adds its own.
Json session_start_json(const char* command, const Session& s);

// Writes all n bytes to a file descriptor, retrying on EINTR; false on any other failure.
bool write_fd(int fd, const char* p, std::size_t n);
// One line for a socket error: the usual phrases for resets and timeouts, strerror otherwise.
std::string describe_errno(int e);

}  // namespace utcp::apps
