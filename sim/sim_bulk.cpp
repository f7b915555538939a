#include "sim_bulk.hpp"

#include <algorithm>
#include <sstream>

namespace utcp::sim {

std::uint8_t content_byte(std::uint64_t stream, std::uint64_t offset) {
  return static_cast<std::uint8_t>(mix(stream, offset / 8) >> (8 * (offset % 8)));
}

void append_content(std::string& out, std::uint64_t stream, std::uint64_t offset, std::size_t n) {
  const std::size_t base = out.size();
  out.resize(base + n);
  std::size_t i = 0;
  while (i < n) {
    const std::uint64_t at = offset + i;
    const std::uint64_t word = mix(stream, at / 8);
    for (std::uint64_t k = at % 8; k < 8 && i < n; ++k, ++i)
      out[base + i] = static_cast<char>(static_cast<std::uint8_t>(word >> (8 * k)));
  }
}

void BulkEndpoint::fail(Network& net, std::string_view why) {
  if (failed_) return;
  failed_ = true;
  std::ostringstream os;
  os << role_;
  if (flow_) os << " " << *flow_;
  os << ": " << why;
  net.fail(os.str());
}

void BulkEndpoint::read(Network& net) {
  while (!eof_) {
    auto r = net.recv(node_, *flow_);
    if (!r) {
      if (r.error().kind == Error::Kind::eof) {
        eof_ = true;
        if (received_ != to_receive_) {
          std::ostringstream os;
          os << "end of stream after " << received_ << " of " << to_receive_ << " bytes";
          fail(net, os.str());
        }
      } else {
        fail(net, "recv: " + r.error().message);
      }
      return;
    }
    if (r->empty()) return;
    for (const std::string& piece : *r) {
      if (received_ + piece.size() > to_receive_) {
        std::ostringstream os;
        os << "received " << received_ + piece.size() << " bytes, more than the " << to_receive_ << " sent";
        fail(net, os.str());
        return;
      }
      for (std::size_t i = 0; i < piece.size(); ++i) {
        if (static_cast<std::uint8_t>(piece[i]) != content_byte(rx_stream_, received_ + i)) {
          std::ostringstream os;
          os << "wrong byte at offset " << received_ + i;
          fail(net, os.str());
          return;
        }
      }
      received_ += piece.size();
    }
    if (received_ == to_receive_) last_byte_at_ = net.now();
  }
}

void BulkEndpoint::write(Network& net) {
  constexpr std::size_t kChunk = 64 * 1024;
  while (sent_ < to_send_) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, to_send_ - sent_));
    chunk_.clear();
    append_content(chunk_, tx_stream_, sent_, n);
    auto r = net.send(node_, *flow_, chunk_);
    if (!r) {
      fail(net, "send: " + r.error().message);
      return;
    }
    if (*r > n) {
      fail(net, "send took more than it was given");
      return;
    }
    sent_ += *r;
    if (*r < n) break;  // the send buffer is full; a Signal will say when there is room
  }
}

void BulkEndpoint::tick(Network& net) {
  step(net, true);
  if (closed_ || failed_) {
    ticking_ = false;
    return;
  }
  net.at(net.now() + read_interval_, [this, &net] { tick(net); });
}

void BulkEndpoint::pump(Network& net) {
  if (read_interval_ == Duration::zero()) return step(net, true);
  if (flow_ && !ticking_ && !closed_ && !failed_) {
    ticking_ = true;
    net.at(net.now() + read_interval_, [this, &net] { tick(net); });
  }
  step(net, false);
}

void BulkEndpoint::step(Network& net, bool may_read) {
  if (!flow_ || closed_ || failed_) return;
  if (to_receive_ == 0 && !last_byte_at_) last_byte_at_ = net.now();
  if (may_read) read(net);
  if (failed_) return;
  write(net);
  if (failed_) return;
  if (sent_ == to_send_ && !write_shut_ && !eof_) {
    // Our data is queued but the peer's is still coming: half-close (FIN after the data).
    if (auto r = net.shutdown(node_, *flow_, Direction::write); !r)
      return fail(net, "shutdown: " + r.error().message);
    write_shut_ = true;
  }
  if (sent_ == to_send_ && eof_) {
    // Both streams ended here: close (sends our FIN too when we have not half-closed).
    if (auto r = net.close(node_, *flow_); !r) return fail(net, "close: " + r.error().message);
    write_shut_ = true;
    closed_ = true;
  }
}

}  // namespace utcp::sim
