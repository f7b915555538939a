// How valgrind counts the send's copy against what it costs (docs/PERFORMANCE.md, issue 15,
// session 29). `send(std::string_view)` copies the caller's bytes into 16 KiB blocks with one
// memcpy per block; glibc moves a copy that size with `rep movsb`, which callgrind counts once
// per byte, where the same bytes in 2 KiB pieces go through glibc's vector loop (about one
// instruction per 16 bytes in callgrind's count).
//
//   bench_memcpy                       CPU time per 16 KiB copy, both ways, six interleaved rounds
//   bench_memcpy --only one|pieces N   N copies one way only: run it under callgrind for the count
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kBlock = 16 * 1024;  // PayloadBlock's size for send(std::string_view)
constexpr std::size_t kPiece = 2 * 1024;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Copies `reps` times, each time one byte of the source changed first (so nothing is hoisted)
// and the destination passed to an empty asm afterwards (so no copy is dropped).
void copy_one(std::vector<char>& from, std::vector<char>& to, std::size_t reps) {
  for (std::size_t i = 0; i < reps; ++i) {
    from[i % kBlock] = static_cast<char>(i);
    std::memcpy(to.data(), from.data(), kBlock);
    asm volatile("" : : "r"(to.data()) : "memory");
  }
}

void copy_pieces(std::vector<char>& from, std::vector<char>& to, std::size_t reps) {
  for (std::size_t i = 0; i < reps; ++i) {
    from[i % kBlock] = static_cast<char>(i);
    for (std::size_t at = 0; at < kBlock; at += kPiece) std::memcpy(to.data() + at, from.data() + at, kPiece);
    asm volatile("" : : "r"(to.data()) : "memory");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char> from(kBlock, 1), to(kBlock);
  if (argc == 4 && std::string_view(argv[1]) == "--only") {
    const std::size_t n = std::strtoul(argv[3], nullptr, 10);
    if (std::string_view(argv[2]) == "one") {
      copy_one(from, to, n);
    } else {
      copy_pieces(from, to, n);
    }
    return to[0] == 2 ? 1 : 0;
  }
  constexpr std::size_t kReps = 200'000;
  double one = 0, pieces = 0;
  for (int round = 0; round < 6; ++round) {
    const double t0 = cpu_seconds();
    copy_one(from, to, kReps);
    const double t1 = cpu_seconds();
    copy_pieces(from, to, kReps);
    const double t2 = cpu_seconds();
    one += t1 - t0;
    pieces += t2 - t1;
    std::printf("round %d: one 16 KiB memcpy %.1f ns, eight 2 KiB memcpys %.1f ns\n", round,
                (t1 - t0) / kReps * 1e9, (t2 - t1) / kReps * 1e9);
  }
  std::printf("RESULT copy_16k_one_ns %.1f\nRESULT copy_16k_pieces_ns %.1f\n", one / (6 * kReps) * 1e9,
              pieces / (6 * kReps) * 1e9);
  return 0;
}
