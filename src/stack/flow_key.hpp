// How the connection table stores a Flow (issue 15: bytes per idle connection): 16 bytes
// in the trie leaf instead of the Flow's 40. A flow whose two addresses are IPv4 keeps its
// 12 bytes (addresses and ports) inline; any other flow (IPv6, or the two families mixed)
// keeps a heap copy of the Flow behind a pointer, so it costs 16 + 48 bytes (malloc's chunk
// for the 40 B Flow) where it cost 40. The map compares a FlowKey with the Flow a segment
// arrived on directly, and gives its callbacks the Flow again (load()).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "utcp/ip.hpp"

namespace utcp::detail {

class FlowKey {
 public:
  explicit FlowKey(const Flow& f) {
    if (both_v4(f)) {
      ips_ = {word(f.local().ip), word(f.remote().ip)};
      local_port_ = f.local().port;
      remote_port_ = f.remote().port;
      inline_ = true;
    } else {
      set_other(new Flow(f));
    }
  }
  FlowKey(const FlowKey& o) : ips_(o.ips_), local_port_(o.local_port_), remote_port_(o.remote_port_), inline_(o.inline_) {
    if (!inline_) set_other(new Flow(*o.other()));
  }
  FlowKey& operator=(const FlowKey&) = delete;  // leaves are made and copied, never re-keyed
  ~FlowKey() {
    if (!inline_) delete other();
  }

  // The Flow it was made from, equal in every byte (an IPv4 IpAddr's unused 12 bytes are 0).
  Flow load() const {
    if (!inline_) return *other();
    return Flow(Endpoint{v4(ips_[0]), local_port_}, Endpoint{v4(ips_[1]), remote_port_});
  }

  friend bool operator==(const FlowKey& k, const Flow& f) {
    if (!k.inline_) return *k.other() == f;
    return both_v4(f) && word(f.local().ip) == k.ips_[0] && word(f.remote().ip) == k.ips_[1] &&
           f.local().port == k.local_port_ && f.remote().port == k.remote_port_;
  }

 private:
  static bool both_v4(const Flow& f) { return f.local().ip.is_v4() && f.remote().ip.is_v4(); }
  static std::uint32_t word(const IpAddr& ip) {
    std::uint32_t w;
    std::memcpy(&w, ip.data(), 4);
    return w;
  }
  static IpAddr v4(std::uint32_t w) {
    std::array<std::uint8_t, 4> b;
    std::memcpy(b.data(), &w, 4);
    return IpAddr::v4(b);
  }
  // Not inline: the heap copy's address in the 8 bytes of ips_ (4-aligned, so copied bytewise).
  Flow* other() const {
    Flow* p;
    std::memcpy(&p, ips_.data(), sizeof p);
    return p;
  }
  void set_other(Flow* p) {
    static_assert(sizeof p <= sizeof ips_);
    std::memcpy(ips_.data(), &p, sizeof p);
    inline_ = false;
  }

  std::array<std::uint32_t, 2> ips_{};  // IPv4: local, remote, network order as IpAddr keeps them
  std::uint16_t local_port_ = 0, remote_port_ = 0;
  bool inline_ = false;
};
static_assert(sizeof(FlowKey) == 16, "issue 15: the connection table's key is 16 bytes");

}  // namespace utcp::detail
