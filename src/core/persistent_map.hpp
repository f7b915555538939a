// A persistent hash array mapped trie (Bagwell, "Ideal Hash Trees", 2001) with an
// earliest-deadline aggregate in every node.
//
// Why: a State must copy in O(1) and share structure (DESIGN.md, value semantics), a segment
// on one flow must cost the same with 1 or 1,000,000 other flows, and `timer`/`next_deadline`
// must not walk every connection (µTCP fault 9). So:
//  - copying a map bumps the root's refcount; nodes are immutable while shared;
//  - a mutation copies only the nodes on its path that are shared with another map
//    (path copying) and updates uniquely owned nodes in place, so the per-segment `update`
//    of a map nobody else holds allocates nothing and costs O(depth);
//  - every branch caches the earliest deadline below it (a leaf's is its value's own), so
//    `min_deadline` is O(1) and `update_due` descends only into subtrees with something due;
//    with a hint (which child is the earliest, and the others' earliest) so that the earliest
//    child moving later need not rescan the branch's children.
//
// Layout: 32-way bitmap-indexed branches (a child's slot is the popcount of the bitmap
// below its bit), 5 hash bits per level, child arrays sized to the children (rounded up to
// even, see new_branch).
// Keys are hashed to 64 bits and mixed (a bijection, so no new collisions), so the depth is
// at most 13 branch levels; keys whose 64-bit hashes are equal share a collision node.
// Leaves and collision nodes may sit at any level: a branch left with a single leaf or
// collision node after an erase is replaced by it, so the trie stays canonical and small.
//
// Refcounts are atomic because a State may be copied to another thread: increments are
// relaxed (the copier already holds a reference), decrements acq_rel (the last owner must
// see every write before it frees), and the "uniquely owned" test is an acquire load.
//
// Deadlines are kept as the tick count of an Instant; Instant::max() means "no deadline".
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/recycler.hpp"
#include "core/slot_pool.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// DeadlineOf: a stateless functor, std::optional<Instant> operator()(const V&) const.
// Stored: how a leaf keeps its key (K itself by default). Another type is constructible from
// a K, compares equal with a K (operator==(const Stored&, const K&)) and gives the K back with
// load(); the callbacks of for_each and update_due then get that K, a temporary.
template <class K, class V, class DeadlineOf, class Hash = std::hash<K>, class Stored = K>
class PersistentMap {
 public:
  PersistentMap() = default;
  PersistentMap(const PersistentMap& o) : root_(o.root_), size_(o.size_) {
    if (root_) retain(root_);
  }
  PersistentMap(PersistentMap&& o) noexcept : root_(std::exchange(o.root_, nullptr)), size_(o.size_) {
    o.size_ = 0;
  }
  PersistentMap& operator=(const PersistentMap& o) {
    if (o.root_) retain(o.root_);
    if (root_) release(root_);
    root_ = o.root_;
    size_ = o.size_;
    return *this;
  }
  PersistentMap& operator=(PersistentMap&& o) noexcept {
    if (this != &o) {
      if (root_) release(root_);
      root_ = std::exchange(o.root_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~PersistentMap() {
    if (root_) release(root_);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The hash the calls below take with a key: a caller that looks a key up several times in
  // one operation (find, then update, then erase) computes it once. `h` must be hash(k).
  static std::uint64_t hash(const K& k) { return hash_of(k); }

  // nullptr when absent.
  const V* find(const K& k) const { return find(hash_of(k), k); }
  const V* find(std::uint64_t h, const K& k) const {
    const Leaf* l = find_leaf(h, k);
    return l ? &l->value : nullptr;
  }

  // Applies f(V&) to k's value in place, copying first the nodes on the path that another
  // map shares. Returns false (and calls nothing) when k is absent.
  template <class F>
  bool update(const K& k, F&& f) {
    return update(hash_of(k), k, std::forward<F>(f));
  }
  template <class F>
  bool update(std::uint64_t h, const K& k, F&& f) {
    return update_if(h, k, [](const V&) { return true; }, std::forward<F>(f));
  }
  // As update, but check(const V&) -> bool sees k's value first, before anything is copied:
  // when it returns false, f is not called and the map is left as it was (the result is
  // still true: k is present). A caller that validates before it changes anything (a user
  // call that may fail) so descends once, not once to find and again to update.
  template <class C, class F>
  bool update_if(std::uint64_t h, const K& k, C&& check, F&& f) {
    // One descent that also checks ownership: in the common case (no snapshot alive) every
    // node on the path is ours alone and the value is updated in place, allocating nothing.
    Branch* path[kMaxDepth];
    std::uint32_t at[kMaxDepth];  // the child's position in path[i]
    std::uint32_t depth = 0;
    // Non-zero when a node on the path is shared (a refcount above 1), or'd level by level
    // without a branch. A branch's children are never null: only the root may be.
    std::uint32_t shared = 0;
    Node* n = root_;
    if (!n) return false;
    std::uint64_t rest = h;  // the hash bits below this level's, the next level's lowest
    Leaf* leaf = nullptr;
    for (;;) {
      shared |= n->refs.load(std::memory_order_acquire) - 1;
      if (n->kind == Kind::inner) {
        Branch* b = static_cast<Branch*>(n);
        const std::uint32_t bit = std::uint32_t{1} << (rest & 31u);
        if (!(b->bitmap & bit)) return false;
        const std::uint32_t pos = slot_of(b, bit);
        path[depth] = b;
        at[depth++] = pos;
        n = b->kids()[pos];
        rest >>= kBits;
      } else if (n->kind == Kind::leaf) {
        Leaf* l = static_cast<Leaf*>(n);
        if (!(l->key == k)) return false;
        leaf = l;
        break;
      } else {
        Branch* c = static_cast<Branch*>(n);
        Node* found = nullptr;
        std::uint32_t i = 0;
        for (; i < c->count; ++i) {
          if (static_cast<Leaf*>(c->kids()[i])->key == k) {
            found = c->kids()[i];
            break;
          }
        }
        if (!found) return false;
        path[depth] = c;
        at[depth++] = i;
        n = found;
      }
    }
    if (!check(std::as_const(leaf->value))) return true;
    if (shared != 0) {
      update_at(root_, 0, h, k, f);  // copy the shared part of the path first
      return true;
    }
    // A leaf keeps no deadline (8 bytes per entry, issue 15): its value gives it, before and
    // after f.
    Ticks old_d = deadline_of(leaf);
    f(leaf->value);
    Ticks new_d = deadline_of(leaf);
    // Fix the aggregates bottom-up, stopping as soon as a node's minimum is unchanged.
    while (depth > 0 && old_d != new_d) {
      Branch* b = path[--depth];
      const Ticks before = b->deadline;
      fix_deadline(b, at[depth], old_d, new_d);
      old_d = before;
      new_d = b->deadline;
    }
    return true;
  }

  // Insert or assign. The hashed form takes the value as an rvalue: a flow table's Tcb is
  // moved once, into its leaf, not first into a parameter (issue 15: connect and listen).
  void insert(const K& k, V v) { insert(hash_of(k), k, std::move(v)); }
  void insert(std::uint64_t h, const K& k, V&& v) {
    if (!root_) {
      Branch* b = new_branch(Kind::inner, 1);
      Leaf* l = make_leaf(k, std::move(v));
      b->bitmap = bit_of(h, 0);
      b->count = 1;
      b->kids()[0] = l;
      rescan(b);
      root_ = b;
      size_ = 1;
      return;
    }
    if (insert_at(root_, 0, h, k, v)) ++size_;
  }

  bool erase(const K& k) { return erase(hash_of(k), k); }
  bool erase(std::uint64_t h, const K& k) {
    // Checking first keeps an absent key from copying a shared path.
    if (!find_leaf(h, k)) return false;
    erase_present(h, k);
    return true;
  }
  // As erase, for a key known to be present (an update just found it): no descent to check.
  void erase_present(std::uint64_t h, const K& k) {
    erase_at(root_, 0, h, k);
    --size_;
  }

  // O(1): the earliest deadline over all values.
  std::optional<Instant> min_deadline() const {
    if (!root_ || root_branch()->deadline == kNone) return std::nullopt;
    return Instant(Duration(root_branch()->deadline));
  }

  // Calls f(const K&, V&) -> bool for every entry whose deadline is <= now; false erases it.
  // Only subtrees whose earliest deadline is <= now are visited.
  template <class F>
  void update_due(Instant now, F&& f) {
    const Ticks t = ticks(now);
    if (!root_ || root_branch()->deadline > t) return;
    due_at(root_, 0, t, f, size_);
  }

  // f(const K&, const V&) for every entry, in trie order (unspecified but deterministic).
  template <class F>
  void for_each(F&& f) const {
    if (root_) each_at(root_, f);
  }

  // Bytes of node storage reachable from this map (nodes shared with other maps included),
  // the trie's overhead for the memory budget; not counting heap memory the Ks and Vs own.
  std::size_t memory_usage() const { return root_ ? usage_at(root_) : 0; }

  // Whether every branch's aggregate is its subtree's earliest deadline and every hint is
  // exact (a walk of the whole trie); for tests.
  bool aggregates_exact() const { return !root_ || exact_at(root_); }

  // Whether two maps share their root (a copy not mutated since); for tests of sharing.
  bool shares_root_with(const PersistentMap& o) const { return root_ != nullptr && root_ == o.root_; }

 private:
  using Ticks = Duration::rep;
  static constexpr Ticks kNone = std::numeric_limits<Ticks>::max();
  static constexpr unsigned kBits = 5;
  static constexpr unsigned kHashBits = 64;
  // Branch levels at shifts 0, 5, ..., 60, then at most one collision node.
  static constexpr std::uint32_t kMaxDepth = (kHashBits + kBits - 1) / kBits + 1;
  static constexpr std::uint8_t kNoHint = 0xff;  // a branch's `least` when it keeps no hint

  enum class Kind : std::uint8_t { inner, leaf, collision };

  struct Node {
    explicit Node(Kind k) : kind(k) {}
    std::atomic<std::uint32_t> refs{1};
    Kind kind;
  };

  struct Leaf : Node {
    // No cached hash (8 bytes per entry, issue 15): the descent compares keys, and the rare
    // paths that need a stored entry's hash (a split, a collision node) compute it again.
    // No stored deadline either (8 bytes per entry): deadline_of computes it from the value.
    Leaf(const K& k, V&& v) : Node(Kind::leaf), key(k), value(std::move(v)) {}
    Leaf(const Leaf& o) : Node(Kind::leaf), key(o.key), value(o.value) {}
    Stored key;
    V value;
  };
  // A leaf's key as a K: the stored one itself, or a K made from it.
  static decltype(auto) key_of(const Leaf* l) {
    if constexpr (std::is_same_v<Stored, K>) {
      return static_cast<const K&>(l->key);
    } else {
      return l->key.load();
    }
  }

  // Leaves come from a slot pool (core/slot_pool.hpp): a 232 B flow table leaf takes 232
  // bytes, not a 240 B malloc chunk (issue 15), and connect and close skip malloc. The core
  // throws nothing: no handler here (a constructor that threw, only bad_alloc, would leave
  // its slot unused, still reachable from the pool).
  using LeafPool = SlotPool<sizeof(Leaf), alignof(Leaf)>;
  template <class... A>
  static Leaf* make_leaf(A&&... a) {
    return ::new (LeafPool::take()) Leaf(std::forward<A>(a)...);
  }
  static void free_leaf(Leaf* l) {
    l->~Leaf();
    LeafPool::give(l);
  }

  // An inner node (bitmap-indexed) or a collision node (count leaves of one hash, unordered).
  // The child pointers follow the header in the same allocation.
  // The capacity sits in the node header's tail padding, in 16 bits, saturating: a collision
  // node of more than 65,535 leaves records 65,535 and is then grown at every insert (cap_full).
  //
  // Besides the subtree's earliest deadline, a branch may know which child holds it (`least`)
  // and the earliest deadline among its other children (`second`), exact whenever `least` is
  // not kNoHint (issue 15, session 29). Then the earliest child moving later costs one
  // comparison, not a rescan of every child: the new earliest is `second` or the child's
  // own. A change that leaves `second` unknown drops the hint, and the next rescan (the
  // earliest child moving later without a hint) computes it again; a child moving earlier
  // than the earliest, from later than it, sets the hint (the old earliest is then exactly
  // the earliest of the others). 32 bytes: `least` sits in the node header's tail padding.
  struct Branch : Node {
    explicit Branch(Kind k) : Node(k) {}
    std::uint8_t least = kNoHint;
    std::uint16_t cap = 0;
    Ticks deadline = kNone;  // the earliest deadline in this subtree
    Ticks second = kNone;    // the earliest deadline of the children but `least`, when hinted
    std::uint32_t bitmap = 0;
    std::uint32_t count = 0;
    bool cap_full() const { return count >= cap; }
    Node** kids() { return reinterpret_cast<Node**>(reinterpret_cast<std::byte*>(this) + sizeof(Branch)); }
    Node* const* kids() const {
      return reinterpret_cast<Node* const*>(reinterpret_cast<const std::byte*>(this) + sizeof(Branch));
    }
  };
  static_assert(sizeof(Branch) % alignof(Node*) == 0);
  static_assert(sizeof(void*) != 8 || sizeof(Branch) == 32, "`least` and the capacity live in Node's tail padding");

  // The earliest deadline below n: a branch's aggregate, a leaf's value's own.
  static Ticks deadline_of(const Node* n) {
    if (n->kind == Kind::leaf) return ticks(DeadlineOf{}(static_cast<const Leaf*>(n)->value));
    return static_cast<const Branch*>(n)->deadline;
  }
  const Branch* root_branch() const { return static_cast<const Branch*>(root_); }

  // ---- helpers ----
  static Ticks ticks(std::optional<Instant> t) { return t ? t->time_since_epoch().count() : kNone; }
  static Ticks ticks(Instant t) { return t.time_since_epoch().count(); }

  static std::uint64_t hash_of(const K& k) {
    // MurmurHash3's fmix64: spreads weak hashes (std::hash of an integer is the identity in
    // libstdc++) over all 64 bits; a bijection, so it adds no collisions.
    std::uint64_t x = static_cast<std::uint64_t>(Hash{}(k));
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  static std::uint32_t index_of(std::uint64_t h, unsigned shift) {
    return static_cast<std::uint32_t>((h >> shift) & 31u);
  }
  static std::uint32_t bit_of(std::uint64_t h, unsigned shift) {
    return std::uint32_t{1} << index_of(h, shift);
  }
  static std::uint32_t slot_of(const Branch* b, std::uint32_t bit) {
    return static_cast<std::uint32_t>(std::popcount(b->bitmap & (bit - 1)));
  }
  static bool terminal(const Node* n) { return n->kind != Kind::inner; }
  static std::uint64_t hash_of_terminal(const Node* n) {
    if (n->kind == Kind::leaf) return hash_of(key_of(static_cast<const Leaf*>(n)));
    return hash_of(key_of(static_cast<const Leaf*>(static_cast<const Branch*>(n)->kids()[0])));
  }

  // Branch storage. The capacity is rounded up to odd: a branch of c children asks for
  // 32 + 8c bytes, and a glibc chunk (8 bytes of header, a multiple of 16) of an even c holds
  // one more child for nothing, so a branch growing one child at a time reallocates every
  // other insert, not every one, at no cost in memory (issue 15). Branches of up to 33
  // children (every inner node; collision nodes that small) come from per-thread recyclers,
  // one per capacity (core/recycler.hpp): a server whose table empties and fills again (a
  // connection opened and closed) and the leaf-level branches of a growing table reuse the
  // shells they just freed instead of calling malloc and free on connect and close. Under
  // AddressSanitizer (UTCP_SLOT_POOL 0) they are plain operator new and delete.
  static constexpr std::uint32_t kRecycledCap = 33;
  static constexpr std::size_t kBranchDepth = 8;  // shells kept per capacity per thread
  static constexpr std::size_t branch_bytes(std::uint32_t cap) { return sizeof(Branch) + cap * sizeof(Node*); }
  template <std::size_t... I>
  static void* take_shell(std::uint32_t cap, std::index_sequence<I...>) {
    using Take = void* (*)();
    static constexpr Take kTake[] = {&Recycler<branch_bytes(2 * I + 1), kBranchDepth>::take...};
    return kTake[cap / 2]();
  }
  template <std::size_t... I>
  static void give_shell(void* p, std::uint32_t cap, std::index_sequence<I...>) {
    using Give = void (*)(void*);
    static constexpr Give kGive[] = {&Recycler<branch_bytes(2 * I + 1), kBranchDepth>::give...};
    kGive[cap / 2](p);
  }
  static Branch* new_branch(Kind kind, std::uint32_t cap) {
    if (cap < 0xffff) cap |= 1;
    void* mem;
#if UTCP_SLOT_POOL
    if (cap <= kRecycledCap) {
      mem = take_shell(cap, std::make_index_sequence<kRecycledCap / 2 + 1>{});
    } else {
      mem = ::operator new(branch_bytes(cap));
    }
#else
    mem = ::operator new(branch_bytes(cap));
#endif
    Branch* b = ::new (mem) Branch(kind);
    b->cap = static_cast<std::uint16_t>(std::min<std::uint32_t>(cap, 0xffff));
    return b;
  }
  // Frees a branch's storage without touching its children's refcounts.
  static void free_shell(Branch* b) {
#if UTCP_SLOT_POOL
    const std::uint32_t cap = b->cap;
    b->~Branch();
    if (cap <= kRecycledCap) {
      give_shell(b, cap, std::make_index_sequence<kRecycledCap / 2 + 1>{});
      return;
    }
#else
    b->~Branch();
#endif
    ::operator delete(static_cast<void*>(b));
  }
  static void retain(Node* n) { n->refs.fetch_add(1, std::memory_order_relaxed); }
  static void release(Node* n) {
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (n->kind == Kind::leaf) {
      free_leaf(static_cast<Leaf*>(n));
      return;
    }
    Branch* b = static_cast<Branch*>(n);
    for (std::uint32_t i = 0; i < b->count; ++i) release(b->kids()[i]);
    free_shell(b);
  }
  static bool unique(const Node* n) { return n->refs.load(std::memory_order_acquire) == 1; }

  // Makes *slot uniquely owned by this map (copying it when shared) and returns it.
  static Node* own(Node*& slot) {
    Node* n = slot;
    if (unique(n)) return n;
    Node* c;
    if (n->kind == Kind::leaf) {
      c = make_leaf(*static_cast<const Leaf*>(n));
    } else {
      const Branch* b = static_cast<const Branch*>(n);
      Branch* nb = new_branch(b->kind, b->count);
      nb->bitmap = b->bitmap;
      nb->count = b->count;
      nb->deadline = b->deadline;
      nb->second = b->second;
      nb->least = b->least;
      for (std::uint32_t i = 0; i < b->count; ++i) {
        nb->kids()[i] = b->kids()[i];
        retain(nb->kids()[i]);
      }
      c = nb;
    }
    release(n);
    slot = c;
    return c;
  }

  // The earliest and the second earliest of a branch's children's deadlines, and the
  // earliest one's position, taken child by child: the aggregate and hint they set.
  struct Earliest {
    Ticks first = kNone, second = kNone;
    std::uint32_t least = 0;
    void take(Ticks d, std::uint32_t pos) {
      if (d < first) {
        second = first;
        first = d;
        least = pos;
      } else if (d < second) {
        second = d;
      }
    }
    void set(Branch* b) const {
      b->deadline = first;
      b->second = second;
      b->least = hint_of(least);
    }
  };
  // Sets b's aggregate and its hint from its children.
  static void rescan(Branch* b) {
    Earliest e;
    for (std::uint32_t i = 0; i < b->count; ++i) e.take(deadline_of(b->kids()[i]), i);
    e.set(b);
  }
  static std::uint8_t hint_of(std::uint32_t pos) {
    return pos < kNoHint ? static_cast<std::uint8_t>(pos) : kNoHint;
  }
  // Child `pos` of b went from deadline old_d to new_d (a child inserted comes from kNone).
  // Rescans only when the earliest child moved later and b keeps no hint.
  static void fix_deadline(Branch* b, std::uint32_t pos, Ticks old_d, Ticks new_d) {
    if (old_d == new_d) return;
    const Ticks first = b->deadline;
    if (b->least != kNoHint) {
      if (pos == b->least) {
        if (new_d <= b->second) {
          b->deadline = new_d;  // still the earliest; the others are unchanged
        } else {
          b->deadline = b->second;  // another child is now the earliest: which, unknown
          b->least = kNoHint;
        }
      } else if (new_d < first) {
        b->second = first;  // the old earliest is now the earliest of the others
        b->least = hint_of(pos);
        b->deadline = new_d;
      } else if (new_d <= b->second) {
        b->second = new_d;
      } else if (old_d == b->second) {
        b->least = kNoHint;  // the others' earliest may have moved later: unknown
      }
      return;
    }
    if (new_d <= first) {
      // When the child was later than the earliest (or every child had no deadline), the
      // old earliest is exactly the earliest of the others.
      if (old_d > first || old_d == kNone) {
        b->second = first;
        b->least = hint_of(pos);
      }
      b->deadline = new_d;
    } else if (old_d == first) {
      rescan(b);
    }
  }

  // Inserts child at position pos of a uniquely owned branch, growing it (into *slot) when full.
  static Branch* insert_kid(Node*& slot, Branch* b, std::uint32_t pos, Node* child) {
    if (b->cap_full()) {
      Branch* nb = new_branch(b->kind, b->count + 1);
      nb->bitmap = b->bitmap;
      nb->count = b->count;
      nb->deadline = b->deadline;
      nb->second = b->second;
      nb->least = b->least;
      std::memcpy(static_cast<void*>(nb->kids()), b->kids(), b->count * sizeof(Node*));
      free_shell(b);
      slot = nb;
      b = nb;
    }
    Node** k = b->kids();
    std::memmove(static_cast<void*>(k + pos + 1), k + pos, (b->count - pos) * sizeof(Node*));
    k[pos] = child;
    ++b->count;
    if (b->least != kNoHint && b->least >= pos) b->least = hint_of(b->least + 1u);
    fix_deadline(b, pos, kNone, deadline_of(child));
    return b;
  }
  // Removes child pos, whose deadline was old_d, fixing the aggregate.
  static void remove_kid(Branch* b, std::uint32_t pos, Ticks old_d) {
    Node** k = b->kids();
    std::memmove(static_cast<void*>(k + pos), k + pos + 1, (b->count - pos - 1) * sizeof(Node*));
    --b->count;
    if (b->least == kNoHint) {
      if (old_d == b->deadline) rescan(b);
    } else if (b->least == pos) {
      b->deadline = b->second;  // the earliest of the others, which remain
      b->least = kNoHint;
    } else {
      if (b->least > pos) --b->least;
      if (old_d == b->second) b->least = kNoHint;  // the others' earliest may have gone
    }
  }

  // A subtree at `shift` holding the terminal a (hash ha) and the terminal b (hash hb), ha != hb.
  static Node* join(Node* a, std::uint64_t ha, Node* b, std::uint64_t hb, unsigned shift) {
    // Bounded recursion: the hashes differ in some bit below 64, found within 13 levels.
    const std::uint32_t ia = index_of(ha, shift), ib = index_of(hb, shift);
    if (ia == ib) {
      Node* child = join(a, ha, b, hb, shift + kBits);
      Branch* br = new_branch(Kind::inner, 1);
      br->bitmap = std::uint32_t{1} << ia;
      br->count = 1;
      br->kids()[0] = child;
      rescan(br);
      return br;
    }
    Branch* br = new_branch(Kind::inner, 2);
    br->bitmap = (std::uint32_t{1} << ia) | (std::uint32_t{1} << ib);
    br->count = 2;
    br->kids()[ia < ib ? 0 : 1] = a;
    br->kids()[ia < ib ? 1 : 0] = b;
    rescan(br);
    return br;
  }

  const Leaf* find_leaf(std::uint64_t h, const K& k) const {
    const Node* n = root_;
    if (!n) return nullptr;
    std::uint64_t rest = h;  // as update_if: the next level's bits lowest; no null children
    for (;;) {
      if (n->kind == Kind::inner) {
        const Branch* b = static_cast<const Branch*>(n);
        const std::uint32_t bit = std::uint32_t{1} << (rest & 31u);
        if (!(b->bitmap & bit)) return nullptr;
        n = b->kids()[slot_of(b, bit)];
        rest >>= kBits;
      } else if (n->kind == Kind::leaf) {
        const Leaf* l = static_cast<const Leaf*>(n);
        return l->key == k ? l : nullptr;
      } else {
        const Branch* c = static_cast<const Branch*>(n);
        for (std::uint32_t i = 0; i < c->count; ++i) {
          const Leaf* l = static_cast<const Leaf*>(c->kids()[i]);
          if (l->key == k) return l;  // a different hash never equals
        }
        return nullptr;
      }
    }
  }

  // Position of key k in a collision node known to hold it.
  static std::uint32_t collision_pos(const Branch* c, const K& k) {
    std::uint32_t i = 0;
    while (static_cast<const Leaf*>(c->kids()[i])->key != k) ++i;
    return i;
  }

  // The key is known to be present below *slot.
  template <class F>
  static void update_at(Node*& slot, unsigned shift, std::uint64_t h, const K& k, F& f) {
    Node* n = own(slot);
    if (n->kind == Kind::leaf) {
      Leaf* l = static_cast<Leaf*>(n);
      f(l->value);
      return;
    }
    Branch* b = static_cast<Branch*>(n);
    const std::uint32_t pos = b->kind == Kind::inner ? slot_of(b, bit_of(h, shift)) : collision_pos(b, k);
    Node*& kid = b->kids()[pos];
    const Ticks old_d = deadline_of(kid);
    update_at(kid, shift + kBits, h, k, f);
    fix_deadline(b, pos, old_d, deadline_of(kid));
  }

  // Returns whether an entry was added (false: an existing value was assigned).
  static bool insert_at(Node*& slot, unsigned shift, std::uint64_t h, const K& k, V& v) {
    Node* n = slot;
    if (n->kind == Kind::leaf) {
      Leaf* l = static_cast<Leaf*>(n);
      if (l->key == k) {
        if (unique(l)) {
          l->value = std::move(v);
        } else {
          slot = make_leaf(k, std::move(v));
          release(l);
        }
        return false;
      }
      Node* nl = make_leaf(k, std::move(v));
      const std::uint64_t lh = hash_of(key_of(l));
      if (lh == h) {
        Branch* c = new_branch(Kind::collision, 2);
        c->count = 2;
        c->kids()[0] = l;  // the slot's reference moves into the collision node
        c->kids()[1] = nl;
        rescan(c);
        slot = c;
      } else {
        slot = join(l, lh, nl, h, shift);
      }
      return true;
    }
    if (n->kind == Kind::collision) {
      const std::uint64_t ch = hash_of_terminal(n);
      if (ch != h) {
        slot = join(n, ch, make_leaf(k, std::move(v)), h, shift);
        return true;
      }
      Branch* c = static_cast<Branch*>(own(slot));
      for (std::uint32_t i = 0; i < c->count; ++i) {
        if (static_cast<Leaf*>(c->kids()[i])->key == k) {
          const Ticks old_d = deadline_of(c->kids()[i]);
          insert_at(c->kids()[i], shift, h, k, v);
          fix_deadline(c, i, old_d, deadline_of(c->kids()[i]));
          return false;
        }
      }
      insert_kid(slot, c, c->count, make_leaf(k, std::move(v)));
      return true;
    }
    Branch* b = static_cast<Branch*>(own(slot));
    const std::uint32_t bit = bit_of(h, shift);
    const std::uint32_t pos = slot_of(b, bit);
    if (!(b->bitmap & bit)) {
      b = insert_kid(slot, b, pos, make_leaf(k, std::move(v)));
      b->bitmap |= bit;
      return true;
    }
    Node*& kid = b->kids()[pos];
    const Ticks old_d = deadline_of(kid);
    const bool added = insert_at(kid, shift + kBits, h, k, v);
    fix_deadline(b, pos, old_d, deadline_of(kid));
    return added;
  }

  // After a removal below a uniquely owned branch: an empty branch disappears, a branch left
  // with one leaf or collision node is replaced by it (terminals may sit at any level), and a
  // collision node left with one leaf becomes that leaf. The root stays a branch.
  static void canonicalize(Node*& slot, Branch* b, bool is_root) {
    if (b->count == 0) {
      free_shell(b);
      slot = nullptr;  // for the root too: an empty map has no root
      return;
    }
    if (is_root || b->count != 1) return;
    Node* only = b->kids()[0];
    if (!terminal(only)) return;
    free_shell(b);  // its reference to `only` moves to the slot
    slot = only;
  }

  // The key is known to be present below *slot.
  static void erase_at(Node*& slot, unsigned shift, std::uint64_t h, const K& k) {
    Node* n = slot;
    if (n->kind == Kind::leaf) {
      release(n);
      slot = nullptr;
      return;
    }
    Branch* b = static_cast<Branch*>(own(slot));
    std::uint32_t pos;
    if (b->kind == Kind::collision) {
      pos = collision_pos(b, k);
    } else {
      pos = slot_of(b, bit_of(h, shift));
    }
    Node*& kid = b->kids()[pos];
    const Ticks old_d = deadline_of(kid);
    erase_at(kid, shift + kBits, h, k);
    if (kid == nullptr) {
      remove_kid(b, pos, old_d);
      if (b->kind == Kind::inner) b->bitmap &= ~bit_of(h, shift);
    } else {
      fix_deadline(b, pos, old_d, deadline_of(kid));
    }
    canonicalize(slot, b, shift == 0);
  }

  // *slot's earliest deadline is <= now.
  template <class F>
  static void due_at(Node*& slot, unsigned shift, Ticks now, F& f, std::size_t& size) {
    Node* n = own(slot);
    if (n->kind == Kind::leaf) {
      Leaf* l = static_cast<Leaf*>(n);
      if (!f(key_of(l), l->value)) {
        release(l);
        slot = nullptr;
        --size;
        return;
      }
      return;
    }
    Branch* b = static_cast<Branch*>(n);
    std::uint32_t out = 0;
    std::uint32_t bitmap = b->bitmap, new_bitmap = 0;
    Earliest e;
    for (std::uint32_t i = 0; i < b->count; ++i) {
      // For an inner node, the lowest remaining bit of the bitmap is child i's bit.
      const std::uint32_t bit = bitmap & (~bitmap + 1);
      bitmap &= bitmap - 1;
      Node*& kid = b->kids()[i];
      if (deadline_of(kid) <= now) due_at(kid, shift + kBits, now, f, size);
      if (kid == nullptr) continue;
      e.take(deadline_of(kid), out);
      new_bitmap |= bit;
      b->kids()[out++] = kid;
    }
    b->count = out;
    if (b->kind == Kind::inner) b->bitmap = new_bitmap;
    e.set(b);
    canonicalize(slot, b, shift == 0);
  }
  template <class F>
  static void each_at(const Node* n, F& f) {
    if (n->kind == Kind::leaf) {
      const Leaf* l = static_cast<const Leaf*>(n);
      f(key_of(l), l->value);
      return;
    }
    const Branch* b = static_cast<const Branch*>(n);
    for (std::uint32_t i = 0; i < b->count; ++i) each_at(b->kids()[i], f);
  }

  static bool exact_at(const Node* n) {
    if (n->kind == Kind::leaf) return true;
    const Branch* b = static_cast<const Branch*>(n);
    Ticks first = kNone;
    for (std::uint32_t i = 0; i < b->count; ++i) {
      if (!exact_at(b->kids()[i])) return false;
      first = std::min(first, deadline_of(b->kids()[i]));
    }
    if (b->deadline != first) return false;
    if (b->least == kNoHint) return true;
    if (b->least >= b->count || deadline_of(b->kids()[b->least]) != first) return false;
    Ticks others = kNone;
    for (std::uint32_t i = 0; i < b->count; ++i) {
      if (i != b->least) others = std::min(others, deadline_of(b->kids()[i]));
    }
    return b->second == others;
  }

  static std::size_t usage_at(const Node* n) {
    if (n->kind == Kind::leaf) return sizeof(Leaf);
    const Branch* b = static_cast<const Branch*>(n);
    std::size_t s = sizeof(Branch) + b->cap * sizeof(Node*);
    for (std::uint32_t i = 0; i < b->count; ++i) s += usage_at(b->kids()[i]);
    return s;
  }

  Node* root_ = nullptr;  // a branch of Kind::inner, or nullptr when empty
  std::size_t size_ = 0;
};

}  // namespace utcp::detail
