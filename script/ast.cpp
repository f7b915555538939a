#include "ast.hpp"

#include <iomanip>
#include <sstream>
#include <type_traits>

namespace utcp::script {
namespace {

void seconds(std::ostream& os, Micros us) {
  if (us < 0) {
    os << '-';
    us = -us;
  }
  os << us / 1'000'000 << '.' << std::setw(6) << std::setfill('0') << us % 1'000'000 << std::setfill(' ');
}

template <class T>
void list(std::ostream& os, const std::vector<T>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) os << (i ? ", " : "") << items[i];
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Time& t) {
  if (t.kind == Time::Kind::any) return os << '*';
  const char* plus = t.kind == Time::Kind::relative ? "+" : "";
  os << plus;
  seconds(os, t.start);
  if (t.window_end) {
    os << '~' << plus;
    seconds(os, *t.window_end);
  }
  if (t.block_end) {
    os << "..." << plus;
    seconds(os, *t.block_end);
  }
  return os;
}

std::ostream& operator<<(std::ostream& os, const Option& o) {
  struct V {
    std::ostream& os;
    void operator()(const OptNop&) const { os << "nop"; }
    void operator()(const OptEol&) const { os << "eol"; }
    void operator()(const OptMss& m) const { os << "mss " << m.value; }
    void operator()(const OptWscale& w) const { os << "wscale " << unsigned{w.shift}; }
    void operator()(const OptSackOk&) const { os << "sackOK"; }
    void operator()(const OptSack& s) const {
      os << "sack";
      for (const auto& [l, r] : s.blocks) os << ' ' << l << ':' << r;
    }
    void operator()(const OptTimestamp& t) const { os << "TS val " << t.value << " ecr " << t.echo; }
    void operator()(const OptOther& x) const {
      os << "opt " << unsigned{x.kind} << " len " << unsigned{x.length};
    }
  };
  std::visit(V{os}, o);
  return os;
}

std::string to_string(const std::vector<Option>& options) {
  if (options.empty()) return "";
  std::ostringstream os;
  os << '<';
  for (std::size_t i = 0; i < options.size(); ++i) os << (i ? "," : "") << options[i];
  os << '>';
  return os.str();
}

std::size_t wire_length(const std::vector<Option>& options) {
  std::size_t n = 0;
  for (const Option& o : options) {
    n += std::visit(
        [](const auto& v) -> std::size_t {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, OptNop> || std::is_same_v<T, OptEol>)
            return 1;
          else if constexpr (std::is_same_v<T, OptMss>)
            return 4;
          else if constexpr (std::is_same_v<T, OptWscale>)
            return 3;
          else if constexpr (std::is_same_v<T, OptSackOk>)
            return 2;
          else if constexpr (std::is_same_v<T, OptSack>)
            return 2 + 8 * v.blocks.size();
          else if constexpr (std::is_same_v<T, OptTimestamp>)
            return 10;
          else
            return v.length;
        },
        o);
  }
  return n;
}

std::string flags_string(const Packet& p) {
  std::string f;
  if (p.syn) f += 'S';
  if (p.fin) f += 'F';
  if (p.rst) f += 'R';
  if (p.psh) f += 'P';
  if (p.urg) f += 'U';
  if (p.ece) f += 'E';
  if (p.cwr) f += 'W';
  if (p.ack_flag) f += '.';
  return f.empty() ? "-" : f;
}

std::ostream& operator<<(std::ostream& os, const Packet& p) {
  os << flags_string(p) << ' ' << p.start << ':' << p.end << '(' << p.length << ')';
  if (p.ack) os << " ack " << *p.ack;
  if (p.window) os << " win " << *p.window;
  if (!p.options)
    os << " <...>";
  else if (!p.options->empty())
    os << ' ' << to_string(*p.options);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Expr& e) {
  struct V {
    std::ostream& os;
    void operator()(const ExprEllipsis&) const { os << "..."; }
    void operator()(const ExprInt& i) const { os << i.value; }
    void operator()(const ExprSymbol& s) const { os << s.name; }
    void operator()(const ExprString& s) const { os << '"' << s.value << '"'; }
    void operator()(const ExprOr& o) const {
      for (std::size_t i = 0; i < o.terms.size(); ++i) os << (i ? "|" : "") << o.terms[i];
    }
    void operator()(const ExprList& l) const {
      os << '[';
      list(os, l.items);
      os << ']';
    }
    void operator()(const ExprStruct& s) const {
      os << '{';
      for (std::size_t i = 0; i < s.fields.size(); ++i) {
        const StructField& f = s.fields[i];
        os << (i ? ", " : "");
        if (!f.name.empty()) {
          os << f.name;
          if (!f.args.empty()) {
            os << '(';
            list(os, f.args);
            os << ')';
          }
          os << '=';
        }
        os << f.value;
      }
      os << '}';
    }
    void operator()(const ExprCall& c) const {
      os << c.name << '(';
      list(os, c.args);
      os << ')';
    }
  };
  std::visit(V{os}, e.value);
  return os;
}

std::ostream& operator<<(std::ostream& os, const Syscall& c) {
  os << c.name << '(';
  list(os, c.args);
  os << ") = " << c.result;
  if (c.errno_name) os << ' ' << *c.errno_name;
  return os;
}

}  // namespace utcp::script
