// The AST of a packetdrill-syntax script, as docs/SCRIPTS.md describes the format:
// header options, then timed events, each an inbound or outbound packet or a system call.
// The parser produces it; the executor runs it. Nothing here knows about the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace utcp::script {

// Script time in microseconds.
using Micros = std::int64_t;

// When an event happens. `T` absolute, `+T` relative to the previous event, `*` any time,
// `T1~T2` / `+T1~+T2` a window, `T...E` / `+T...E` a blocking call that returns at E
// (E measured from the same anchor as T).
struct Time {
  enum class Kind : std::uint8_t { absolute, relative, any };
  Kind kind = Kind::relative;
  Micros start = 0;                  // the offset (relative) or instant (absolute)
  std::optional<Micros> window_end;  // set for `T1~T2`: same anchor as start
  std::optional<Micros> block_end;   // set for `T...E`: same anchor as start

  friend bool operator==(const Time&, const Time&) = default;
};
std::ostream& operator<<(std::ostream&, const Time&);

// A TCP option as a script writes it, NOP and EOL included (they matter on outbound lines).
// Sequence numbers in `sack` are script-relative, like `ack`.
struct OptNop {
  friend bool operator==(const OptNop&, const OptNop&) = default;
};
struct OptEol {
  friend bool operator==(const OptEol&, const OptEol&) = default;
};
struct OptMss {
  std::uint16_t value = 0;
  friend bool operator==(const OptMss&, const OptMss&) = default;
};
struct OptWscale {
  std::uint8_t shift = 0;
  friend bool operator==(const OptWscale&, const OptWscale&) = default;
};
struct OptSackOk {
  friend bool operator==(const OptSackOk&, const OptSackOk&) = default;
};
struct OptSack {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;
  friend bool operator==(const OptSack&, const OptSack&) = default;
};
struct OptTimestamp {
  std::uint32_t value = 0, echo = 0;
  friend bool operator==(const OptTimestamp&, const OptTimestamp&) = default;
};
// A kind the runner does not name (only ever produced when listing wire bytes).
struct OptOther {
  std::uint8_t kind = 0, length = 0;
  friend bool operator==(const OptOther&, const OptOther&) = default;
};
using Option = std::variant<OptNop, OptEol, OptMss, OptWscale, OptSackOk, OptSack, OptTimestamp, OptOther>;
std::ostream& operator<<(std::ostream&, const Option&);
// "<mss 1460,nop,wscale 7>", "" for an empty list.
std::string to_string(const std::vector<Option>&);
// The bytes the options take on the wire, as written (no padding added).
std::size_t wire_length(const std::vector<Option>&);

// `< FLAGS START:END(LEN) [ack A] [win W] [<options>]` or the same with `>`.
struct Packet {
  enum class Direction : std::uint8_t { inbound, outbound };
  Direction direction = Direction::inbound;
  bool syn = false, fin = false, rst = false, psh = false, ack_flag = false;
  bool urg = false, ece = false, cwr = false;
  std::uint32_t start = 0, end = 0, length = 0;  // end == start + length (checked by the parser)
  std::optional<std::uint32_t> ack;              // `ack A`
  std::optional<std::uint32_t> window;           // `win W`: the raw 16-bit field
  // The options: nullopt for `<...>` (not checked); an empty list when none are written.
  std::optional<std::vector<Option>> options = std::vector<Option>{};

  friend bool operator==(const Packet&, const Packet&) = default;
};
// The flags as a script writes them: "S.", "P.", ".", "-".
std::string flags_string(const Packet&);
// The whole line after the direction: "S. 0:0(0) ack 1 win 65535 <mss 1460>".
std::ostream& operator<<(std::ostream&, const Packet&);

// A system call argument or result.
struct Expr;
struct ExprEllipsis {
  friend bool operator==(const ExprEllipsis&, const ExprEllipsis&) = default;
};
struct ExprInt {
  std::int64_t value = 0;
  friend bool operator==(const ExprInt&, const ExprInt&) = default;
};
struct ExprSymbol {
  std::string name;  // SOCK_STREAM, O_NONBLOCK, EAGAIN ...
  friend bool operator==(const ExprSymbol&, const ExprSymbol&) = default;
};
struct ExprString {
  std::string value;
  friend bool operator==(const ExprString&, const ExprString&) = default;
};
struct ExprOr {  // A|B|C
  std::vector<Expr> terms;
  friend bool operator==(const ExprOr&, const ExprOr&) = default;
};
struct ExprList {  // [1] or [a, b]
  std::vector<Expr> items;
  friend bool operator==(const ExprList&, const ExprList&) = default;
};
struct StructField;
// {onoff=1, linger=0}; {..., 10} (positional fields); {msg_iov(1)=[...], msg_flags=0}.
struct ExprStruct {
  std::vector<StructField> fields;
  friend bool operator==(const ExprStruct&, const ExprStruct&);
};
struct ExprCall {  // htons(8080), inet_addr("192.0.2.1")
  std::string name;
  std::vector<Expr> args;
  friend bool operator==(const ExprCall&, const ExprCall&) = default;
};
struct Expr {
  std::variant<ExprEllipsis, ExprInt, ExprSymbol, ExprString, ExprOr, ExprList, ExprStruct, ExprCall> value;
  friend bool operator==(const Expr&, const Expr&) = default;
};
std::ostream& operator<<(std::ostream&, const Expr&);
// `name=value`, `name(args)=value`, or a positional `value` (name empty).
struct StructField {
  std::string name;
  std::vector<Expr> args;  // msg_iov(1): [1]
  Expr value;
  friend bool operator==(const StructField&, const StructField&) = default;
};
inline bool operator==(const ExprStruct& a, const ExprStruct& b) {
  return a.fields == b.fields;
}

// `name(args) = RESULT [ERRNO] [(comment)]`.
struct Syscall {
  std::string name;
  std::vector<Expr> args;
  Expr result;
  std::optional<std::string> errno_name;  // EAGAIN, EINPROGRESS ...

  friend bool operator==(const Syscall&, const Syscall&) = default;
};
std::ostream& operator<<(std::ostream&, const Syscall&);

// A backtick shell line or a %{ python }% block: OS-specific, skipped by the runner.
struct Skipped {
  enum class Kind : std::uint8_t { shell, python };
  Kind kind = Kind::shell;
  friend bool operator==(const Skipped&, const Skipped&) = default;
};

struct Event {
  int line = 0;  // 1-based line of the event's first token (of the include directive for an included one)
  std::string origin;  // for an event from an included file: "file:line" of it there; else empty
  Time time;
  std::variant<Packet, Syscall, Skipped> action;

  friend bool operator==(const Event&, const Event&) = default;
};

// A header option line `--name=value` (or `--name` alone, value empty).
struct HeaderOption {
  int line = 0;
  std::string name, value;
  friend bool operator==(const HeaderOption&, const HeaderOption&) = default;
};

struct Script {
  std::string path;
  std::vector<HeaderOption> options;
  std::vector<Event> events;  // skipped shell/python events are kept, in order
  int skipped_shell = 0, skipped_python = 0;
};

}  // namespace utcp::script
