// The script parser on its own: no engine, no host.
#include "parser.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <source_location>
#include <sstream>

#include "lexer.hpp"

namespace utcp::script {
namespace {

Script ok(std::string_view text, std::source_location where = std::source_location::current()) {
  auto s = parse(text, "t.pkt");
  EXPECT_TRUE(s.has_value()) << s.error() << " (from line " << where.line() << ")";
  return s ? *s : Script{};
}

ParseError bad(std::string_view text, std::source_location where = std::source_location::current()) {
  auto s = parse(text, "t.pkt");
  EXPECT_FALSE(s.has_value()) << "parsed: " << text << " (from line " << where.line() << ")";
  return s ? ParseError{} : s.error();
}

template <class T>
const T& action(const Script& s, std::size_t i) {
  static const T none{};
  if (i >= s.events.size() || !std::holds_alternative<T>(s.events[i].action)) {
    ADD_FAILURE() << "event " << i << " missing or of another kind";
    return none;
  }
  return std::get<T>(s.events[i].action);
}

std::string str(const auto& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

TEST(Seconds, ParsesToMicroseconds) {
  EXPECT_EQ(parse_seconds("0"), 0);
  EXPECT_EQ(parse_seconds("1"), 1'000'000);
  EXPECT_EQ(parse_seconds(".1"), 100'000);
  EXPECT_EQ(parse_seconds("0.100"), 100'000);
  EXPECT_EQ(parse_seconds("1.5"), 1'500'000);
  EXPECT_EQ(parse_seconds("2.000001"), 2'000'001);
  EXPECT_EQ(parse_seconds("3."), 3'000'000);
  EXPECT_EQ(parse_seconds(""), std::nullopt);
  EXPECT_EQ(parse_seconds("."), std::nullopt);
  EXPECT_EQ(parse_seconds("1.0000001"), std::nullopt);
  EXPECT_EQ(parse_seconds("1x"), std::nullopt);
}

TEST(Integer, DecimalAndHex) {
  EXPECT_EQ(parse_integer("0"), 0);
  EXPECT_EQ(parse_integer("65535"), 65535);
  EXPECT_EQ(parse_integer("0x802"), 0x802);
  EXPECT_EQ(parse_integer("0xFF"), 255);
  EXPECT_EQ(parse_integer("0x"), std::nullopt);
  EXPECT_EQ(parse_integer("12a"), std::nullopt);
  EXPECT_EQ(parse_integer("99999999999999999999"), std::nullopt);
}

TEST(Lexer, TokensAndLines) {
  Lexer lex("+0.1 < S. 0:0(0) // c\n/* a\nb */ ... `x\ny` %{ p }% --mss=100 \"s\"");
  EXPECT_TRUE(lex.next().is('+'));
  Token n = lex.next();
  EXPECT_EQ(n.kind, Token::Kind::number);
  EXPECT_EQ(n.text, "0.1");
  EXPECT_TRUE(lex.next().is('<'));
  EXPECT_EQ(lex.flags(), "S.");
  EXPECT_EQ(lex.next().text, "0");
  EXPECT_TRUE(lex.next().is(':'));
  lex.next();
  EXPECT_TRUE(lex.next().is('('));
  lex.next();
  EXPECT_TRUE(lex.next().is(')'));
  Token e = lex.next();
  EXPECT_EQ(e.kind, Token::Kind::ellipsis);
  EXPECT_EQ(e.line, 3);
  Token sh = lex.next();
  EXPECT_EQ(sh.kind, Token::Kind::shell);
  EXPECT_EQ(sh.text, "x\ny");
  Token py = lex.next();
  EXPECT_EQ(py.kind, Token::Kind::python);
  EXPECT_EQ(py.line, 4);
  Token opt = lex.next();
  EXPECT_EQ(opt.kind, Token::Kind::option);
  EXPECT_EQ(opt.text, "mss=100");
  Token s = lex.next();
  EXPECT_EQ(s.kind, Token::Kind::string);
  EXPECT_EQ(s.text, "s");
  EXPECT_EQ(lex.next().kind, Token::Kind::end);
}

TEST(Lexer, NumberBeforeEllipsis) {
  Lexer lex("0...0.5");
  EXPECT_EQ(lex.next().text, "0");
  EXPECT_EQ(lex.next().kind, Token::Kind::ellipsis);
  EXPECT_EQ(lex.next().text, "0.5");
}

TEST(Lexer, Errors) {
  EXPECT_EQ(Lexer("/* open").next().kind, Token::Kind::error);
  EXPECT_EQ(Lexer("`open").next().kind, Token::Kind::error);
  EXPECT_EQ(Lexer("%{ open").next().kind, Token::Kind::error);
  EXPECT_EQ(Lexer("\"open").next().kind, Token::Kind::error);
  EXPECT_EQ(Lexer("@").next().kind, Token::Kind::error);
  EXPECT_EQ(Lexer("12ab").next().kind, Token::Kind::error);
}

TEST(Parser, HeaderOptionsAndSkippedLines) {
  const Script s =
      ok("--tolerance_usecs=10000\n--ip_version=ipv6\n--verbose\n"
         "`sysctl -q net.ipv4.tcp_sack=1`\n"
         "0 `tc qdisc`\n"
         "%{ print(1) }%\n"
         "0 close(3) = 0\n");
  ASSERT_EQ(s.options.size(), 3u);
  EXPECT_EQ(s.options[0], (HeaderOption{1, "tolerance_usecs", "10000"}));
  EXPECT_EQ(s.options[1].value, "ipv6");
  EXPECT_EQ(s.options[2], (HeaderOption{3, "verbose", ""}));
  EXPECT_EQ(s.skipped_shell, 2);
  EXPECT_EQ(s.skipped_python, 1);
  ASSERT_EQ(s.events.size(), 4u);
  EXPECT_EQ(s.events[3].line, 7);
  EXPECT_EQ(s.path, "t.pkt");
}

TEST(Parser, Times) {
  const Script s =
      ok("0 close(3) = 0\n"
         "+0.1 close(3) = 0\n"
         "* > . 1:1(0) ack 1\n"
         "1~2 > . 1:1(0) ack 1\n"
         "+1~+2 > . 1:1(0) ack 1\n"
         "+0...0.2 read(3, ..., 10) = 10\n"
         "2.5...2.7 read(3, ..., 10) = 10\n");
  EXPECT_EQ(s.events[0].time, (Time{Time::Kind::absolute, 0, {}, {}}));
  EXPECT_EQ(s.events[1].time, (Time{Time::Kind::relative, 100'000, {}, {}}));
  EXPECT_EQ(s.events[2].time.kind, Time::Kind::any);
  EXPECT_EQ(s.events[3].time, (Time{Time::Kind::absolute, 1'000'000, 2'000'000, {}}));
  EXPECT_EQ(s.events[4].time, (Time{Time::Kind::relative, 1'000'000, 2'000'000, {}}));
  EXPECT_EQ(s.events[5].time, (Time{Time::Kind::relative, 0, {}, 200'000}));
  EXPECT_EQ(s.events[6].time, (Time{Time::Kind::absolute, 2'500'000, {}, 2'700'000}));
  EXPECT_EQ(str(s.events[5].time), "+0.000000...+0.200000");
}

TEST(Parser, InboundSyn) {
  const Script s = ok("0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n");
  const Packet& p = action<Packet>(s, 0);
  EXPECT_EQ(p.direction, Packet::Direction::inbound);
  EXPECT_TRUE(p.syn);
  EXPECT_FALSE(p.ack_flag);
  EXPECT_EQ(p.window, 32792u);
  EXPECT_EQ(p.ack, std::nullopt);
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(*p.options,
            (std::vector<Option>{OptMss{1000}, OptSackOk{}, OptNop{}, OptNop{}, OptNop{}, OptWscale{7}}));
  EXPECT_EQ(str(p), "S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>");
}

TEST(Parser, OutboundPackets) {
  const Script s =
      ok("+0 > S. 0:0(0) ack 1 <...>\n"
         "+0 > P. 1:1001(1000) ack 1 win 257\n"
         "+0 > F. 1001:1001(0) ack 1\n"
         "+0 > R 1:1(0)\n"
         "+0 > - 5:5(0) ack 0\n"
         "+0 > FP. 1:11(10) ack 1 <nop,nop,TS val 100 ecr 7,nop,nop,sack 1:2 3:4>\n"
         "+0 > SEW 0:0(0) <nop,nop,nop,eol>\n");
  const Packet& a = action<Packet>(s, 0);
  EXPECT_TRUE(a.syn && a.ack_flag);
  EXPECT_EQ(a.ack, 1u);
  EXPECT_EQ(a.options, std::nullopt);
  const Packet& b = action<Packet>(s, 1);
  EXPECT_TRUE(b.psh && b.ack_flag && !b.syn);
  EXPECT_EQ(b.start, 1u);
  EXPECT_EQ(b.end, 1001u);
  EXPECT_EQ(b.length, 1000u);
  EXPECT_EQ(b.window, 257u);
  EXPECT_EQ(b.options, std::vector<Option>{});
  EXPECT_TRUE(action<Packet>(s, 2).fin);
  const Packet& r = action<Packet>(s, 3);
  EXPECT_TRUE(r.rst && !r.ack_flag);
  EXPECT_EQ(r.window, std::nullopt);
  const Packet& none = action<Packet>(s, 4);
  EXPECT_EQ(flags_string(none), "-");
  EXPECT_EQ(none.ack, 0u);
  const Packet& f = action<Packet>(s, 5);
  EXPECT_EQ(flags_string(f), "FP.");
  ASSERT_TRUE(f.options);
  EXPECT_EQ(f.options->size(), 6u);
  EXPECT_EQ((*f.options)[2], (Option{OptTimestamp{100, 7}}));
  EXPECT_EQ((*f.options)[5], (Option{OptSack{{{1, 2}, {3, 4}}}}));
  EXPECT_EQ(to_string(*f.options), "<nop,nop,TS val 100 ecr 7,nop,nop,sack 1:2 3:4>");
  EXPECT_EQ(flags_string(action<Packet>(s, 6)), "SEW");
}

TEST(Parser, SequenceWraps) {
  const Packet p = action<Packet>(ok("0 < . 4294967295:9(10) ack 1 win 1\n"), 0);
  EXPECT_EQ(p.start, 4294967295u);
  EXPECT_EQ(p.end, 9u);
}

TEST(Parser, Syscalls) {
  const Script s =
      ok("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
         "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
         "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
         "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
         "+0 fcntl(3, F_GETFL) = 0x802 (flags)\n"
         "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
         "+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
         "+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = 0\n"
         "+0 read(3, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)\n"
         "+0 close(3) = 0\n");
  const Syscall& sock = action<Syscall>(s, 0);
  EXPECT_EQ(sock.name, "socket");
  ASSERT_EQ(sock.args.size(), 3u);
  EXPECT_EQ(sock.args[0], Expr{ExprEllipsis{}});
  EXPECT_EQ(sock.args[1], Expr{ExprSymbol{"SOCK_STREAM"}});
  EXPECT_EQ(sock.result, Expr{ExprInt{3}});
  EXPECT_EQ(sock.errno_name, std::nullopt);
  EXPECT_EQ(str(action<Syscall>(s, 1)), "setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
  EXPECT_EQ(str(action<Syscall>(s, 2).args[2]), "O_RDWR|O_NONBLOCK");
  const Syscall& conn = action<Syscall>(s, 3);
  EXPECT_EQ(conn.result, Expr{ExprInt{-1}});
  EXPECT_EQ(conn.errno_name, "EINPROGRESS");
  EXPECT_EQ(action<Syscall>(s, 4).result, Expr{ExprInt{0x802}});
  EXPECT_EQ(str(action<Syscall>(s, 5)), "getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0");
  EXPECT_EQ(str(action<Syscall>(s, 6)), "poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1");
  EXPECT_EQ(str(action<Syscall>(s, 7).args[1]),
            "{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}");
  EXPECT_EQ(action<Syscall>(s, 8).errno_name, "EAGAIN");
  EXPECT_EQ(s.events[9].line, 10);
}

TEST(Parser, MultiLineEvent) {
  const Script s =
      ok("0 setsockopt(3, SOL_SOCKET, SO_LINGER,\n   {onoff=1,\n    linger=0}, 8) = 0\n+0 close(3) = 0\n");
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[0].line, 1);
  EXPECT_EQ(s.events[1].line, 4);
}

TEST(Parser, ErrorsNameTheirLine) {
  EXPECT_EQ(bad("0 close(3) = 0\n+0 < S 0:0(0)\n").line, 2);    // inbound without win
  EXPECT_EQ(bad("0 close(3) = 0\n\n+0 > S 0:1(0)\n").line, 3);  // END != START + LEN
  EXPECT_EQ(bad("0 > Z 0:0(0)\n").line, 1);
  EXPECT_EQ(bad("0 > SS 0:0(0)\n").line, 1);
  EXPECT_EQ(bad("0 > S 0:0(0) <mss>\n").line, 1);
  EXPECT_EQ(bad("0 > S 0:0(0) <md5 1>\n").line, 1);
  EXPECT_EQ(bad("0 > S 0:0(0) <mss 1460\n").line, 2);
  EXPECT_EQ(bad("0 > S 0:0(0) win 65536\n").line, 1);
  EXPECT_EQ(bad("0 > S 0:0(0) ack 1 ack 2\n").line, 1);
  EXPECT_EQ(bad("0 > S 0:0(0) foo\n").line, 1);
  EXPECT_EQ(bad("0 close(3) = 0 foo bar\n").line, 1);  // errno not starting with E
  EXPECT_EQ(bad("0 close(3 = 0\n").line, 1);
  EXPECT_EQ(bad("0 close(3)\n1 close(4) = 0\n").line, 2);
  EXPECT_EQ(bad("close(3) = 0\n").line, 1);          // no time
  EXPECT_EQ(bad("* close(3) = 0\n").line, 1);        // '*' on a syscall
  EXPECT_EQ(bad("0~1 < . 1:1(0) win 1\n").line, 1);  // window on an inbound packet
  EXPECT_EQ(bad("0...1 > . 1:1(0)\n").line, 1);      // blocking end on a packet
  EXPECT_EQ(bad("1~+2 > . 1:1(0)\n").line, 1);       // mixed window
  EXPECT_EQ(bad("2~1 > . 1:1(0)\n").line, 1);
  EXPECT_EQ(bad("0 close(3) = 0\n--mss=1000\n").line, 2);
  EXPECT_EQ(bad("0 close(3) = 0\n/* open\n").line, 2);
  EXPECT_EQ(bad("0 > . 1:1(0) <sack>\n").line, 1);
  EXPECT_EQ(bad("0 > . 99999999999:1(0)\n").line, 1);
  EXPECT_EQ(bad("0 read(3, ..., 1) = -1 EAGAIN (open\n").line, 1);
}

// packetdrill's grammar: an errno takes its text; a note is words only.
TEST(Parser, ErrnoTextAndNotesAsPacketdrillReadsThem) {
  ok("0 read(3, ..., 1) = -1 EAGAIN (Resource temporarily unavailable)\n");
  ok("0 fcntl(3, F_GETFL) = 2 (O_RDWR)\n");
  EXPECT_EQ(bad("0 read(3, ..., 1) = -1 EAGAIN\n+0 close(3) = 0\n").line, 1);
  EXPECT_EQ(bad("0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n").line, 1);
  EXPECT_EQ(bad("0 read(3, ..., 1) = -1 EAGAIN (it's (nested) text)\n").line, 1);
  EXPECT_EQ(bad("0 read(3, ..., 1) = 1 (got 1)\n").line, 1);
  EXPECT_EQ(bad("0 read(3, ..., 1) = 1 ()\n").line, 1);
}

// packetdrill refuses options that do not fill whole 32-bit words, in both directions.
TEST(Parser, OptionsFillWholeWords) {
  ok("0 < S 0:0(0) win 1 <nop,wscale 7>\n");
  ok("0 > S. 0:0(0) ack 1 <mss 1460,sackOK,nop,nop>\n");
  EXPECT_EQ(bad("0 < S 0:0(0) win 1 <wscale 7>\n").line, 1);
  EXPECT_EQ(bad("0 > S. 0:0(0) ack 1 <sackOK>\n").line, 1);
  EXPECT_EQ(bad("0 < S 0:0(0) win 1 <TS val 1 ecr 2,TS val 1 ecr 2,TS val 1 ecr 2,TS val 1 ecr 2,nop,nop,nop,"
                "nop>\n")
                .line,
            1);  // 44 bytes
  const Packet p = action<Packet>(ok("0 < SF 0:0(0) win 1\n"), 0);
  EXPECT_TRUE(p.syn && p.fin);  // any flags, as packetdrill injects them
}

TEST(Parser, StructFieldsPositionalAndWithArguments) {
  const Script s =
      ok("0 readv(4, [{..., 5}, {iov_base=..., iov_len=10}], 2) = 15\n"
         "+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, MSG_PEEK) = 10\n");
  const Syscall& rv = action<Syscall>(s, 0);
  const auto& iov = std::get<ExprList>(rv.args[1].value);
  ASSERT_EQ(iov.items.size(), 2u);
  const auto& first = std::get<ExprStruct>(iov.items[0].value);
  ASSERT_EQ(first.fields.size(), 2u);
  EXPECT_EQ(first.fields[0].name, "");
  EXPECT_EQ(first.fields[1].value, Expr{ExprInt{5}});
  EXPECT_EQ(str(rv), "readv(4, [{..., 5}, {iov_base=..., iov_len=10}], 2) = 15");
  const Syscall& rm = action<Syscall>(s, 1);
  const auto& msg = std::get<ExprStruct>(rm.args[1].value);
  ASSERT_EQ(msg.fields.size(), 3u);
  EXPECT_EQ(msg.fields[1].name, "msg_iov");
  EXPECT_EQ(msg.fields[1].args, std::vector<Expr>{Expr{ExprInt{1}}});
  EXPECT_EQ(str(rm.args[1]), "{msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}");
}

TEST(Lexer, IncludeDirective) {
  EXPECT_EQ(include_directive("//@include a.pkt"), "a.pkt");
  EXPECT_EQ(include_directive("  // @include   dir/b.pkt  "), "dir/b.pkt");
  EXPECT_EQ(include_directive("//@include a.pkt  // why"), "a.pkt");
  EXPECT_EQ(include_directive("//@includes a.pkt"), std::nullopt);
  EXPECT_EQ(include_directive("// include a.pkt"), std::nullopt);
  EXPECT_EQ(include_directive("//@include"), std::string_view{});  // malformed: an error
  EXPECT_EQ(include_directive("//@include a b"), std::string_view{});
  EXPECT_EQ(bad("0 close(3) = 0\n//@include a.pkt b\n").line, 2);
  // Not alone on its line: a plain comment.
  const Script s = ok("0 close(3) = 0 //@include nowhere.pkt\n");
  EXPECT_EQ(s.events.size(), 1u);
}

// Files in a fresh directory, removed at the end.
class Includes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("utcp_include_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "inc");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string put(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(Includes, SpliceEventsWithTheirOrigin) {
  put("inc/inner.pkt", "// inner\n+0 close(5) = 0\n");
  put("inc/outer.pkt", "0 close(3) = 0\n//@include inner.pkt\n+0 close(4) = 0\n");
  const std::string main = put("main.pkt", "// main\n//@include inc/outer.pkt\n+1 close(6) = 0\n");
  const auto s = parse_file(main);
  ASSERT_TRUE(s) << s.error();
  ASSERT_EQ(s->events.size(), 4u);
  EXPECT_EQ(s->events[0].line, 2);
  EXPECT_EQ(s->events[0].origin, (dir_ / "inc/outer.pkt").string() + ":1");
  EXPECT_EQ(s->events[1].origin, (dir_ / "inc/inner.pkt").string() + ":2");
  EXPECT_EQ(str(std::get<Syscall>(s->events[1].action)), "close(5) = 0");
  EXPECT_EQ(s->events[2].origin, (dir_ / "inc/outer.pkt").string() + ":3");
  EXPECT_EQ(s->events[3].line, 3);
  EXPECT_EQ(s->events[3].origin, "");
  const auto text = expand_includes(main);
  ASSERT_TRUE(text) << text.error();
  const auto again = parse(*text, main);
  ASSERT_TRUE(again) << again.error();
  ASSERT_EQ(again->events.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(again->events[i].action, s->events[i].action);
  EXPECT_EQ(text->find("@include"), std::string::npos);
}

TEST_F(Includes, ErrorsNameTheDirective) {
  put("opts.pkt", "--mss=1000\n0 close(3) = 0\n");
  EXPECT_EQ(parse_file(put("a.pkt", "0 close(3) = 0\n//@include opts.pkt\n")).error().line, 2);
  EXPECT_EQ(parse_file(put("b.pkt", "\n//@include missing.pkt\n")).error().line, 2);
  put("broken.pkt", "0 close(3 = 0\n");
  const auto e = parse_file(put("c.pkt", "//@include broken.pkt\n"));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().line, 1);
  EXPECT_NE(e.error().message.find("broken.pkt:1"), std::string::npos) << e.error().message;
  put("loop.pkt", "//@include loop.pkt\n");
  EXPECT_FALSE(parse_file(dir_ / "loop.pkt"));
  EXPECT_FALSE(expand_includes((dir_ / "loop.pkt").string()));
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "0 f(" + std::string(10000, '[') + ") = 0\n";
  EXPECT_EQ(bad(deep).line, 1);
}

TEST(Parser, ErrorMessageSaysWhatWasFound) {
  const ParseError e = bad("0 > S 0:0(0) win x\n");
  EXPECT_NE(e.message.find("found 'x'"), std::string::npos) << e.message;
  EXPECT_EQ(str(e).rfind("line 1: ", 0), 0u);
}

TEST(Parser, FileThatCannotBeRead) {
  const auto s = parse_file("/nonexistent/x.pkt");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().line, 0);
}

}  // namespace
}  // namespace utcp::script
