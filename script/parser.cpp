#include "parser.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>

#include "lexer.hpp"

namespace utcp::script {
namespace {

// Thrown only inside this file, caught by parse(): a parse error ends the whole parse.
struct Failure {
  ParseError error;
};

// How deep includes may nest (a cycle ends here too).
constexpr int kMaxIncludeDepth = 8;

std::expected<std::string, ParseError> read_text(const std::string& path) {
  // POSIX calls, not an ifstream: a stream opens a directory and reads it as empty (an empty
  // script that passes), and its failures carry no errno to report.
  const auto cannot = [&](int e) {
    return std::unexpected(ParseError{0, "cannot read " + path + ": " + std::strerror(e)});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    const int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    return cannot(e);
  }
  std::string text;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return cannot(e);
    }
    if (n == 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

// An include's path, relative to the directory of the file that names it.
std::string resolve(const std::string& from, std::string_view file) {
  if (file.starts_with('/')) return std::string(file);
  const std::size_t slash = from.rfind('/');
  return slash == std::string::npos ? std::string(file) : from.substr(0, slash + 1) + std::string(file);
}

class Parser {
 public:
  Parser(std::string_view text, int depth) : lex_(text), include_depth_(depth) {}

  Script run(std::string path) {
    Script s;
    s.path = std::move(path);
    while (lex_.peek().kind == Token::Kind::option) {
      const Token t = lex_.next();
      const std::size_t eq = t.text.find('=');
      s.options.push_back(
          {t.line, t.text.substr(0, eq), eq == std::string::npos ? "" : t.text.substr(eq + 1)});
    }
    while (lex_.peek().kind != Token::Kind::end) {
      if (lex_.peek().kind == Token::Kind::include) {
        include(s, lex_.next());
        continue;
      }
      Event e = event();
      if (const auto* k = std::get_if<Skipped>(&e.action))
        ++(k->kind == Skipped::Kind::shell ? s.skipped_shell : s.skipped_python);
      s.events.push_back(std::move(e));
    }
    return s;
  }

 private:
  [[noreturn]] void fail(int line, std::string message) { throw Failure{{line, std::move(message)}}; }
  [[noreturn]] void unexpected(const Token& t, std::string_view wanted) {
    if (t.kind == Token::Kind::error) fail(t.line, t.text);
    std::ostringstream os;
    os << "expected " << wanted << ", found " << t;
    fail(t.line, os.str());
  }
  Token expect_punct(char c) {
    Token t = lex_.next();
    if (!t.is(c)) unexpected(t, std::string("'") + c + "'");
    return t;
  }
  Token expect_number(std::string_view what) {
    Token t = lex_.next();
    if (t.kind != Token::Kind::number) unexpected(t, what);
    return t;
  }
  std::uint32_t u32(std::string_view what) {
    const Token t = expect_number(what);
    const auto v = parse_integer(t.text);
    if (!v || *v > std::numeric_limits<std::uint32_t>::max())
      fail(t.line, std::string(what) + " out of range: " + t.text);
    return static_cast<std::uint32_t>(*v);
  }
  Micros seconds(const Token& t) {
    if (t.kind != Token::Kind::number) unexpected(t, "a time");
    const auto v = parse_seconds(t.text);
    if (!v) fail(t.line, "bad time '" + t.text + "'");
    return *v;
  }
  bool at_time() {
    const Token& t = lex_.peek();
    return t.kind == Token::Kind::number || t.is('+') || t.is('*');
  }

  Event event() {
    Event e;
    e.line = lex_.line();
    const Token first = lex_.peek();
    if (first.kind == Token::Kind::shell || first.kind == Token::Kind::python) {
      e.action = skipped(lex_.next());
      return e;
    }
    if (first.kind == Token::Kind::option) fail(first.line, "header option after the first event");
    if (!at_time()) unexpected(lex_.next(), "a time ('0', '+0.1', '*') to start an event");
    e.time = time();
    const Token t = lex_.peek();
    if (t.kind == Token::Kind::shell || t.kind == Token::Kind::python) {
      e.action = skipped(lex_.next());
    } else if (t.is('<') || t.is('>')) {
      const bool out = lex_.next().is('>');
      e.action = packet(e.line, out);
    } else if (t.kind == Token::Kind::word) {
      e.action = syscall();
    } else {
      unexpected(lex_.next(), "'<', '>' or a system call");
    }
    check_time_use(e);
    const Token after = lex_.peek();
    if (after.kind != Token::Kind::end && after.line == lex_.last_line() && !at_time() &&
        after.kind != Token::Kind::shell && after.kind != Token::Kind::python)
      unexpected(lex_.next(), "the end of the event");
    return e;
  }

  // "//@include FILE": FILE's events (it may hold nothing else) run here, as if written in
  // place; each keeps its place there as its origin and takes the directive's line.
  void include(Script& s, const Token& t) {
    if (include_depth_ >= kMaxIncludeDepth)
      fail(t.line, "includes nested more than " + std::to_string(kMaxIncludeDepth) + " deep (a cycle?)");
    const std::string path = resolve(s.path, t.text);
    const auto text = read_text(path);
    if (!text) fail(t.line, text.error().message);
    Script inner;
    try {
      inner = Parser(*text, include_depth_ + 1).run(path);
    } catch (const Failure& f) {
      fail(t.line, "in " + path + (f.error.line > 0 ? ":" + std::to_string(f.error.line) : "") + ": " +
                       f.error.message);
    }
    if (!inner.options.empty())
      fail(t.line, "in " + path + ": an included file holds events only, not header options");
    for (Event& e : inner.events) {
      if (e.origin.empty()) e.origin = path + ":" + std::to_string(e.line);
      e.line = t.line;
      s.events.push_back(std::move(e));
    }
    s.skipped_shell += inner.skipped_shell;
    s.skipped_python += inner.skipped_python;
  }

  Skipped skipped(const Token& t) {
    return Skipped{t.kind == Token::Kind::shell ? Skipped::Kind::shell : Skipped::Kind::python};
  }

  void check_time_use(const Event& e) {
    const bool outbound = std::holds_alternative<Packet>(e.action) &&
                          std::get<Packet>(e.action).direction == Packet::Direction::outbound;
    if ((e.time.kind == Time::Kind::any || e.time.window_end) && !outbound)
      fail(e.line, "'*' and time windows are for outbound packets only");
    if (e.time.block_end && !std::holds_alternative<Syscall>(e.action))
      fail(e.line, "'T...E' is for system calls only");
  }

  Time time() {
    Time t;
    if (lex_.peek().is('*')) {
      lex_.next();
      t.kind = Time::Kind::any;
      return t;
    }
    const bool relative = lex_.peek().is('+');
    if (relative) lex_.next();
    t.kind = relative ? Time::Kind::relative : Time::Kind::absolute;
    t.start = seconds(lex_.next());
    if (lex_.peek().is('~')) {
      lex_.next();
      const int line = lex_.line();
      if (lex_.peek().is('+')) {
        if (!relative) fail(line, "a window is both absolute or both relative");
        lex_.next();
      }
      t.window_end = seconds(lex_.next());
      if (*t.window_end < t.start) fail(line, "a time window ends before it starts");
    } else if (lex_.peek().kind == Token::Kind::ellipsis) {
      lex_.next();
      const int line = lex_.line();
      if (lex_.peek().is('+')) {
        if (!relative) fail(line, "'T...E': E is relative only when T is");
        lex_.next();
      }
      t.block_end = seconds(lex_.next());
      if (*t.block_end < t.start) fail(line, "'T...E' ends before it starts");
    }
    return t;
  }

  Packet packet(int line, bool outbound) {
    Packet p;
    p.direction = outbound ? Packet::Direction::outbound : Packet::Direction::inbound;
    const std::string flags = lex_.flags();
    if (flags.empty()) unexpected(lex_.next(), "packet flags ('S', 'S.', '.', 'P.', 'F.', 'R', '-' ...)");
    if (flags != "-") {
      for (char c : flags) {
        bool* f = c == 'S'   ? &p.syn
                  : c == 'F' ? &p.fin
                  : c == 'R' ? &p.rst
                  : c == 'P' ? &p.psh
                  : c == '.' ? &p.ack_flag
                  : c == 'U' ? &p.urg
                  : c == 'E' ? &p.ece
                  : c == 'W' ? &p.cwr
                             : nullptr;
        if (f == nullptr) fail(line, "bad packet flag '" + std::string(1, c) + "' in '" + flags + "'");
        if (*f) fail(line, "packet flag '" + std::string(1, c) + "' repeated in '" + flags + "'");
        *f = true;
      }
    }
    p.start = u32("a sequence number START:END(LEN)");
    expect_punct(':');
    p.end = u32("END of START:END(LEN)");
    expect_punct('(');
    p.length = u32("LEN of START:END(LEN)");
    expect_punct(')');
    if (p.end != p.start + p.length)
      fail(line, "END != START + LEN in " + std::to_string(p.start) + ":" + std::to_string(p.end) + "(" +
                     std::to_string(p.length) + ")");
    bool options_seen = false;
    for (;;) {
      const Token t = lex_.peek();
      if (t.is_word("ack")) {
        lex_.next();
        if (p.ack) fail(t.line, "'ack' given twice");
        p.ack = u32("the ack number");
      } else if (t.is_word("win")) {
        lex_.next();
        if (p.window) fail(t.line, "'win' given twice");
        const int wline = lex_.line();
        p.window = u32("the window");
        if (*p.window > 0xffff) fail(wline, "win is the raw 16-bit field: at most 65535");
      } else if (t.is('<')) {
        lex_.next();
        if (options_seen) fail(t.line, "options given twice");
        options_seen = true;
        p.options = options();
      } else {
        break;
      }
    }
    if (!outbound && !p.window) fail(line, "an inbound packet needs 'win W'");
    return p;
  }

  std::optional<std::vector<Option>> options() {
    if (lex_.peek().kind == Token::Kind::ellipsis) {
      lex_.next();
      expect_punct('>');
      return std::nullopt;
    }
    std::vector<Option> list;
    for (;;) {
      const Token t = lex_.next();
      if (t.kind != Token::Kind::word)
        unexpected(t, "a TCP option (nop, eol, mss, wscale, sackOK, sack, TS)");
      if (t.text == "nop") {
        list.emplace_back(OptNop{});
      } else if (t.text == "eol") {
        list.emplace_back(OptEol{});
      } else if (t.text == "mss") {
        const std::uint32_t v = u32("the MSS");
        if (v > 0xffff) fail(t.line, "mss above 65535");
        list.emplace_back(OptMss{static_cast<std::uint16_t>(v)});
      } else if (t.text == "wscale") {
        const std::uint32_t v = u32("the window scale shift");
        if (v > 0xff) fail(t.line, "wscale above 255");
        list.emplace_back(OptWscale{static_cast<std::uint8_t>(v)});
      } else if (t.text == "sackOK") {
        list.emplace_back(OptSackOk{});
      } else if (t.text == "sack") {
        OptSack s;
        while (lex_.peek().kind == Token::Kind::number) {
          const std::uint32_t l = u32("a SACK left edge");
          expect_punct(':');
          s.blocks.emplace_back(l, u32("a SACK right edge"));
        }
        if (s.blocks.empty() || s.blocks.size() > 4) fail(t.line, "sack takes 1 to 4 blocks L:R");
        list.emplace_back(std::move(s));
      } else if (t.text == "TS") {
        OptTimestamp ts;
        if (!lex_.next().is_word("val")) fail(t.line, "expected 'TS val X ecr Y'");
        ts.value = u32("the TS value");
        if (!lex_.next().is_word("ecr")) fail(t.line, "expected 'TS val X ecr Y'");
        ts.echo = u32("the TS echo reply");
        list.emplace_back(ts);
      } else {
        fail(t.line, "unsupported TCP option '" + t.text + "'");
      }
      const Token sep = lex_.next();
      if (sep.is('>')) {
        // As packetdrill: the options must fill whole 32-bit words (pad with nop).
        if (const std::size_t n = wire_length(list); n % 4 != 0)
          fail(sep.line,
               "the options take " + std::to_string(n) + " bytes, not a multiple of 4: pad them with nop");
        if (wire_length(list) > 40) fail(sep.line, "the options take more than 40 bytes");
        return list;
      }
      if (!sep.is(',')) unexpected(sep, "',' or '>' in the option list");
    }
  }

  Syscall syscall() {
    Syscall c;
    c.name = lex_.next().text;
    expect_punct('(');
    c.args = exprs_until(')');
    expect_punct('=');
    c.result = expr();
    const Token t = lex_.peek();
    if (t.kind == Token::Kind::word && t.line == lex_.last_line()) {
      c.errno_name = lex_.next().text;
      if (c.errno_name->size() < 2 || (*c.errno_name)[0] != 'E')
        fail(t.line, "expected an errno name (EAGAIN ...), found '" + *c.errno_name + "'");
      // packetdrill's grammar: an errno is followed by its text.
      if (!lex_.peek().is('(') || lex_.peek().line != lex_.last_line())
        fail(t.line, "an errno is followed by its text in parentheses: " + *c.errno_name +
                         " (Resource temporarily unavailable)");
    }
    if (lex_.peek().is('(') && lex_.peek().line == lex_.last_line()) {
      const int line = lex_.next().line;
      const auto note = lex_.until_close_paren();
      if (!note) fail(line, "unterminated '(' comment");
      check_note(line, *note);
    }
    return c;
  }

  // packetdrill reads a result's note as a list of words (letters, digits and '_', not
  // starting with a digit): "(Operation now in progress)".
  void check_note(int line, std::string_view note) {
    std::istringstream words{std::string(note)};
    std::string w;
    bool any = false;
    while (words >> w) {
      any = true;
      const bool word = !w.empty() && (std::isalpha(static_cast<unsigned char>(w[0])) != 0 || w[0] == '_') &&
                        std::all_of(w.begin(), w.end(), [](char ch) {
                          return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
                        });
      if (!word)
        fail(line, "a note in parentheses is words only (packetdrill refuses '" + w + "'): (" +
                       std::string(note) + ")");
    }
    if (!any) fail(line, "an empty note '()'");
  }

  Expr expr() {
    Expr first = primary();
    if (!lex_.peek().is('|')) return first;
    ExprOr o;
    o.terms.push_back(std::move(first));
    while (lex_.peek().is('|')) {
      lex_.next();
      o.terms.push_back(primary());
    }
    return Expr{std::move(o)};
  }

  Expr primary() {
    // Nesting is bounded so that hostile input cannot exhaust the stack.
    struct Depth {
      int& d;
      explicit Depth(int& depth) : d(++depth) {}
      ~Depth() { --d; }
    } depth(depth_);
    Token t = lex_.next();
    if (depth_ > kMaxDepth) fail(t.line, "arguments nested too deeply");
    switch (t.kind) {
      case Token::Kind::ellipsis:
        return Expr{ExprEllipsis{}};
      case Token::Kind::number: {
        const auto v = parse_integer(t.text);
        if (!v) fail(t.line, "bad integer '" + t.text + "'");
        return Expr{ExprInt{*v}};
      }
      case Token::Kind::string:
        return Expr{ExprString{t.text}};
      case Token::Kind::word: {
        if (!lex_.peek().is('(')) return Expr{ExprSymbol{t.text}};
        lex_.next();
        return Expr{ExprCall{t.text, exprs_until(')')}};
      }
      default:
        break;
    }
    if (t.is('-')) {
      const Token n = expect_number("a number after '-'");
      const auto v = parse_integer(n.text);
      if (!v) fail(n.line, "bad integer '" + n.text + "'");
      return Expr{ExprInt{-*v}};
    }
    if (t.is('[')) return Expr{ExprList{exprs_until(']')}};
    if (t.is('{')) {
      ExprStruct s;
      if (!lex_.peek().is('}')) {
        for (;;) {
          s.fields.push_back(struct_field());
          if (!lex_.peek().is(',')) break;
          lex_.next();
        }
      }
      expect_punct('}');
      return Expr{std::move(s)};
    }
    unexpected(t, "an argument");
  }

  // Comma-separated expressions up to `close` (the opening one already read), which is consumed.
  std::vector<Expr> exprs_until(char close) {
    std::vector<Expr> out;
    if (!lex_.peek().is(close)) {
      out.push_back(expr());
      while (lex_.peek().is(',')) {
        lex_.next();
        out.push_back(expr());
      }
    }
    expect_punct(close);
    return out;
  }

  // `name=value`, `name(args)=value` (msg_iov(1)=[...]) or a positional value ({..., 10}).
  StructField struct_field() {
    StructField f;
    if (lex_.peek().kind != Token::Kind::word) {
      f.value = expr();
      return f;
    }
    const Token name = lex_.next();
    f.name = name.text;
    if (lex_.peek().is('(')) {
      lex_.next();
      f.args = exprs_until(')');
    }
    expect_punct('=');
    f.value = expr();
    return f;
  }

  static constexpr int kMaxDepth = 32;
  Lexer lex_;
  int depth_ = 0;
  int include_depth_ = 0;
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const ParseError& e) {
  return os << "line " << e.line << ": " << e.message;
}

std::optional<Micros> parse_seconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  if (whole.size() > 9 || frac.size() > 6) return std::nullopt;  // up to 10^9 s, to the microsecond
  Micros v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  Micros f = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    const char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    f = f * 10 + (c - '0');
  }
  return v * 1'000'000 + f;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  }
  return static_cast<std::int64_t>(v);
}

std::expected<Script, ParseError> parse(std::string_view text, std::string path) {
  try {
    return Parser(text, 0).run(std::move(path));
  } catch (const Failure& f) {
    return std::unexpected(f.error);
  }
}

std::expected<Script, ParseError> parse_file(const std::string& path) {
  const auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  return parse(*text, path);
}

namespace {

std::expected<std::string, ParseError> expand(const std::string& path, const std::string& text, int depth) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto file = include_directive(line);
    if (file && file->empty()) return std::unexpected(ParseError{n, "expected '//@include FILE'"});
    if (!file) {
      out += line + '\n';
      continue;
    }
    if (depth >= kMaxIncludeDepth)
      return std::unexpected(ParseError{
          n, "includes nested more than " + std::to_string(kMaxIncludeDepth) + " deep (a cycle?)"});
    const std::string inner = resolve(path, *file);
    const auto body = read_text(inner);
    if (!body) return std::unexpected(ParseError{n, body.error().message});
    auto expanded = expand(inner, *body, depth + 1);
    if (!expanded) return std::unexpected(ParseError{n, "in " + inner + ": " + expanded.error().message});
    out += "// ---- " + std::string(*file) + " ----\n" + *expanded + "// ---- end of " + std::string(*file) +
           " ----\n";
  }
  return out;
}

}  // namespace

std::expected<std::string, ParseError> expand_includes(const std::string& path) {
  const auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  return expand(path, *text, 0);
}

}  // namespace utcp::script
