// Proportional Rate Reduction (RFC 6937 §3).
#include "core/prr.hpp"

#include <algorithm>

namespace utcp::detail {

std::uint32_t Prr::on_ack(std::uint32_t delivered_data, std::uint32_t pipe, std::uint32_t ssthresh,
                          std::uint32_t smss) {
  delivered += delivered_data;
  std::int64_t sndcnt = 0;
  if (pipe > ssthresh) {
    // Proportional rate reduction: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
    const std::uint64_t fs = std::max<std::uint32_t>(recover_fs, 1);
    const std::uint64_t target = (std::uint64_t{delivered} * ssthresh + fs - 1) / fs;
    sndcnt = static_cast<std::int64_t>(target) - out;
  } else {
    // Slow Start Reduction Bound: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS,
    // sndcnt = MIN(ssthresh - pipe, limit).
    const std::int64_t limit =
        std::max<std::int64_t>(std::int64_t{delivered} - out, delivered_data) + std::int64_t{smss};
    sndcnt = std::min<std::int64_t>(std::int64_t{ssthresh} - pipe, limit);
  }
  // The first ACK of recovery always allows the fast retransmit (as Linux's
  // tcp_cwnd_reduction does): with a small ssthresh the ceiling above could give 0.
  if (out == 0 && delivered_data > 0) sndcnt = std::max<std::int64_t>(sndcnt, smss);
  return static_cast<std::uint32_t>(std::max<std::int64_t>(sndcnt, 0));
}

}  // namespace utcp::detail
