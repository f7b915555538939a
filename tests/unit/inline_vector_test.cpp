// InlineVector<T, N>: inline up to N elements, on the heap beyond, with std::vector's meaning.
#include "utcp/inline_vector.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace utcp {
namespace {

using V = InlineVector<std::string, 2>;

std::vector<std::string> all(const V& v) {
  return std::vector<std::string>(v.begin(), v.end());
}

TEST(InlineVector, KeepsNInlineAndSpillsBeyond) {
  V v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.capacity(), 2u);
  const std::string* inline_at = v.data();
  v.push_back("a");
  v.emplace_back(3, 'b');
  EXPECT_EQ(v.data(), inline_at);  // still inside the object
  EXPECT_EQ(all(v), (std::vector<std::string>{"a", "bbb"}));
  v.push_back("c");  // spills: all three on the heap
  EXPECT_NE(v.data(), inline_at);
  EXPECT_GE(v.capacity(), 3u);
  EXPECT_EQ(all(v), (std::vector<std::string>{"a", "bbb", "c"}));
  EXPECT_EQ(v.back(), "c");
  v.pop_back();
  EXPECT_EQ(v.size(), 2u);
  v.clear();
  EXPECT_TRUE(v.empty());
}

TEST(InlineVector, CopiesAndMovesBothForms) {
  for (std::size_t n : {0u, 1u, 2u, 5u}) {
    SCOPED_TRACE(n);
    V a;
    for (std::size_t i = 0; i < n; ++i) a.push_back(std::to_string(i));
    V b = a;
    EXPECT_EQ(a, b);
    V c = std::move(b);
    EXPECT_EQ(c, a);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty, as documented
    V d{"x"};
    d = c;
    EXPECT_EQ(d, a);
    V e{"y", "z", "w"};
    e = std::move(d);
    EXPECT_EQ(e, a);
    e = {"p", "q"};
    EXPECT_EQ(all(e), (std::vector<std::string>{"p", "q"}));
  }
}

TEST(InlineVector, EraseAssignReserveAndEquality) {
  V v{"a", "b", "c", "d"};
  v.erase(v.begin() + 1);
  EXPECT_EQ(all(v), (std::vector<std::string>{"a", "c", "d"}));
  v.erase(v.begin(), v.begin() + 2);
  EXPECT_EQ(all(v), (std::vector<std::string>{"d"}));
  const std::vector<std::string> src{"1", "2", "3"};
  v.assign(src.begin(), src.end());
  EXPECT_EQ(all(v), src);
  V w;
  w.reserve(10);
  EXPECT_GE(w.capacity(), 10u);
  EXPECT_NE(v, w);
  w.assign(src.begin(), src.end());
  EXPECT_EQ(v, w);
  EXPECT_EQ(std::vector<std::string>(v.rbegin(), v.rend()), (std::vector<std::string>{"3", "2", "1"}));
}

// Elements are destroyed exactly once, inline or spilled.
TEST(InlineVector, DestroysEveryElementOnce) {
  auto token = std::make_shared<int>(0);
  {
    InlineVector<std::shared_ptr<int>, 2> v;
    for (int i = 0; i < 7; ++i) v.push_back(token);
    auto copy = v;
    EXPECT_EQ(token.use_count(), 15);
    copy.erase(copy.begin(), copy.begin() + 3);
    EXPECT_EQ(token.use_count(), 12);
  }
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace
}  // namespace utcp
