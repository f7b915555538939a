#include "pcapng.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "ip_packet.hpp"

namespace utcp::io {
namespace {

static_assert(std::endian::native == std::endian::little, "pcapng files are written in little-endian order");

// Block types and option codes (draft-ietf-opsawg-pcapng §4, §3.5).
constexpr std::uint32_t block_shb = 0x0A0D0D0A;
constexpr std::uint32_t block_idb = 1;
constexpr std::uint32_t block_epb = 6;
constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
constexpr std::uint16_t opt_endofopt = 0, opt_comment = 1;
constexpr std::uint16_t shb_userappl = 4;
constexpr std::uint16_t if_name = 2, if_description = 3, if_tsresol = 9;
constexpr std::uint16_t epb_flags = 2;
constexpr std::uint16_t linktype_raw = 101;
constexpr std::uint32_t snap_length = 65535;
constexpr std::size_t flush_at = 1 << 16;

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

void pad4(std::vector<std::byte>& out) {
  while (out.size() % 4 != 0) out.push_back(std::byte{0});
}

void option(std::vector<std::byte>& out, std::uint16_t code, std::span<const std::byte> value) {
  put(out, code);
  put(out, static_cast<std::uint16_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  pad4(out);
}

void option(std::vector<std::byte>& out, std::uint16_t code, std::string_view text) {
  // An option's length is 16 bits: a longer text is cut (to a multiple of 4, for the padding).
  option(out, code, std::as_bytes(std::span(text.data(), std::min<std::size_t>(text.size(), 65532))));
}

IoError failure(const std::string& path, const std::string& what) {
  return IoError{0, "capture " + path + ": " + what};
}

}  // namespace

IoResult<PcapngWriter> PcapngWriter::open(const std::string& path, std::string_view application) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(errno_error("cannot write capture " + path));
  PcapngWriter w(path, fd);
  std::vector<std::byte> body;
  put(body, byte_order_magic);
  put(body, std::uint16_t{1});  // version 1.0
  put(body, std::uint16_t{0});
  put(body, std::int64_t{-1});  // section length: not given
  option(body, shb_userappl, application);
  option(body, opt_endofopt, std::span<const std::byte>{});
  w.block(block_shb, body);  // written with the first packets: errors come from write() and close()
  return w;
}

PcapngWriter::PcapngWriter(PcapngWriter&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      interfaces_(other.interfaces_),
      records_(other.records_),
      error_(std::move(other.error_)) {}

PcapngWriter& PcapngWriter::operator=(PcapngWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) (void)close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    interfaces_ = other.interfaces_;
    records_ = other.records_;
    error_ = std::move(other.error_);
  }
  return *this;
}

PcapngWriter::~PcapngWriter() {
  if (fd_ >= 0) (void)close();
}

void PcapngWriter::block(std::uint32_t type, std::span<const std::byte> body) {
  const auto total = static_cast<std::uint32_t>(12 + body.size());
  put(buffer_, type);
  put(buffer_, total);
  buffer_.insert(buffer_.end(), body.begin(), body.end());
  put(buffer_, total);
}

IoResult<void> PcapngWriter::flush() {
  if (error_) return failed();
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = failure(path_, std::string("write failed: ") + std::strerror(n < 0 ? errno : EIO));
      buffer_.clear();
      return failed();
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
  return {};
}

IoResult<std::uint32_t> PcapngWriter::add_interface(std::string_view name, std::string_view description) {
  if (error_) return std::unexpected(*error_);
  if (fd_ < 0) return std::unexpected(failure(path_, "already closed"));
  std::vector<std::byte> body;
  put(body, linktype_raw);
  put(body, std::uint16_t{0});
  put(body, snap_length);
  option(body, if_name, name);
  if (!description.empty()) option(body, if_description, description);
  const std::byte nanoseconds{9};  // 10^-9 s
  option(body, if_tsresol, std::span(&nanoseconds, 1));
  option(body, opt_endofopt, std::span<const std::byte>{});
  block(block_idb, body);
  return interfaces_++;
}

IoResult<void> PcapngWriter::write(std::uint32_t interface, Duration at, std::span<const std::byte> datagram,
                                   PacketDirection direction, std::string_view comment) {
  if (error_) return failed();
  if (fd_ < 0) return std::unexpected(failure(path_, "already closed"));
  if (interface >= interfaces_) return std::unexpected(failure(path_, "no such interface"));
  if (at < Duration::zero()) return std::unexpected(failure(path_, "timestamp before the epoch"));
  const auto ns =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(at).count());
  const std::size_t captured = std::min<std::size_t>(datagram.size(), snap_length);
  std::vector<std::byte> body;
  body.reserve(32 + captured + comment.size() + 16);
  put(body, interface);
  put(body, static_cast<std::uint32_t>(ns >> 32));
  put(body, static_cast<std::uint32_t>(ns));
  put(body, static_cast<std::uint32_t>(captured));
  put(body, static_cast<std::uint32_t>(std::min<std::size_t>(datagram.size(), UINT32_MAX)));
  body.insert(body.end(), datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(captured));
  pad4(body);
  if (!comment.empty()) option(body, opt_comment, comment);
  if (direction != PacketDirection::unknown) {
    const auto flags = static_cast<std::uint32_t>(direction);
    option(body, epb_flags, std::as_bytes(std::span(&flags, 1)));
  }
  if (!comment.empty() || direction != PacketDirection::unknown)
    option(body, opt_endofopt, std::span<const std::byte>{});
  block(block_epb, body);
  ++records_;
  if (buffer_.size() >= flush_at) return flush();
  return {};
}

IoResult<void> PcapngWriter::write(std::uint32_t interface, Duration at, const Output& o,
                                   PacketDirection direction, std::string_view comment) {
  const std::vector<std::byte> datagram = host::frame(o);
  if (datagram.empty()) return std::unexpected(failure(path_, "segment cannot be framed"));
  return write(interface, at, datagram, direction, comment);
}

IoResult<void> PcapngWriter::close() {
  if (fd_ < 0) return error_ ? failed() : std::unexpected(failure(path_, "already closed"));
  auto flushed = flush();
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && !error_)
    error_ = failure(path_, std::string("close failed: ") + std::strerror(errno));
  if (!flushed) return flushed;
  if (error_) return failed();
  return {};
}

// ---- reading ----

namespace {

class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> b) : b_(b) {}
  bool has(std::size_t n) const { return b_.size() - at_ >= n; }
  template <class T>
  T get() {
    T v{};
    std::memcpy(&v, b_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::span<const std::byte> take(std::size_t n) {
    auto s = b_.subspan(at_, n);
    at_ += n;
    return s;
  }
  void skip(std::size_t n) { at_ += n; }
  std::size_t left() const { return b_.size() - at_; }

 private:
  std::span<const std::byte> b_;
  std::size_t at_ = 0;
};

// Calls fn(code, value) for each option up to opt_endofopt or the end; false when malformed.
template <class Fn>
bool options(Cursor c, Fn fn) {
  while (c.has(4)) {
    const auto code = c.get<std::uint16_t>();
    const auto len = c.get<std::uint16_t>();
    if (code == opt_endofopt) return true;
    const std::size_t padded = (len + 3u) & ~3u;
    if (!c.has(padded)) return false;
    fn(code, c.take(len));
    c.skip(padded - len);
  }
  return c.left() == 0;
}

std::string text(std::span<const std::byte> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

}  // namespace

IoResult<PcapngFile> read_pcapng(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(errno_error("cannot read capture " + path));
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::unexpected(errno_error("reading capture " + path));
  const auto* begin = reinterpret_cast<const std::byte*>(raw.data());
  const std::vector<std::byte> bytes(begin, begin + raw.size());

  PcapngFile file;
  std::vector<int> exponent;  // per interface: timestamp unit 10^-exponent s
  Cursor c(bytes);
  bool first = true;
  while (c.left() > 0) {
    const std::size_t offset = bytes.size() - c.left();
    const auto bad = [&](const std::string& why) {
      return std::unexpected(failure(path, why + " (block at byte " + std::to_string(offset) + ")"));
    };
    if (!c.has(12)) return bad("truncated block");
    const auto type = c.get<std::uint32_t>();
    if (first && type != block_shb) return bad("not a pcapng file");
    const auto total = c.get<std::uint32_t>();
    if (total < 12 || total % 4 != 0 || !c.has(total - 8)) return bad("bad block length");
    Cursor body(c.take(total - 12));
    if (c.get<std::uint32_t>() != total) return bad("block lengths differ");
    first = false;
    if (type == block_shb) {
      if (!body.has(16)) return bad("short section header");
      if (body.get<std::uint32_t>() != byte_order_magic) return bad("not little-endian pcapng");
      body.skip(12);
      if (!options(body, [&](std::uint16_t code, std::span<const std::byte> v) {
            if (code == shb_userappl) file.application = text(v);
          }))
        return bad("malformed section header options");
    } else if (type == block_idb) {
      if (!body.has(8)) return bad("short interface description");
      PcapngInterface i;
      i.linktype = body.get<std::uint16_t>();
      body.skip(6);
      int exp = 6;
      if (!options(body, [&](std::uint16_t code, std::span<const std::byte> v) {
            if (code == if_name) i.name = text(v);
            if (code == if_description) i.description = text(v);
            if (code == if_tsresol && v.size() == 1) exp = static_cast<int>(v[0]);
          }))
        return bad("malformed interface options");
      if (exp < 0 || exp > 9) return bad("unsupported timestamp resolution");
      exponent.push_back(exp);
      file.interfaces.push_back(std::move(i));
    } else if (type == block_epb) {
      if (!body.has(20)) return bad("short packet block");
      PcapngPacket p;
      p.interface = body.get<std::uint32_t>();
      if (p.interface >= exponent.size()) return bad("packet on an undeclared interface");
      const std::uint64_t ts = std::uint64_t{body.get<std::uint32_t>()} << 32 | body.get<std::uint32_t>();
      std::uint64_t scale = 1;
      for (int k = exponent[p.interface]; k < 9; ++k) scale *= 10;
      p.at = std::chrono::nanoseconds(static_cast<std::int64_t>(ts * scale));
      const auto captured = body.get<std::uint32_t>();
      p.original_length = body.get<std::uint32_t>();
      const std::size_t padded = (std::size_t{captured} + 3) & ~std::size_t{3};
      if (!body.has(padded)) return bad("packet data beyond its block");
      const auto data = body.take(captured);
      p.data.assign(data.begin(), data.end());
      body.skip(padded - captured);
      if (!options(body, [&](std::uint16_t code, std::span<const std::byte> v) {
            if (code == opt_comment) p.comment += (p.comment.empty() ? "" : "; ") + text(v);
            if (code == epb_flags && v.size() == 4) {
              std::uint32_t f = 0;
              std::memcpy(&f, v.data(), 4);
              p.direction = static_cast<PacketDirection>(f & 3);
            }
          }))
        return bad("malformed packet options");
      file.packets.push_back(std::move(p));
    }
  }
  if (first) return std::unexpected(failure(path, "empty file"));
  return file;
}

}  // namespace utcp::io
