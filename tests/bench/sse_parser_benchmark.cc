// Throughput of SseParser on MCP-shaped traffic, next to a same-run baseline so
// results can be quoted as a ratio rather than as machine-dependent MB/s.
//
//   bazel run -c opt //tests/bench:sse_parser_benchmark
//
// Corpora (about 1 MiB each): `small` is JSON-RPC notifications with a
// ~200-byte data line plus `event:` and `id:` lines; `large` is ~4 KiB tool
// results. Each comes with LF and with CRLF line ends (sse-starlette, and so
// the Python SDK, sends CRLF). The chunk size models the socket reads: 64 bytes
// (worst case, every line split), 1460 (one TCP segment), 16384 (a typical read
// buffer), 0 (the whole corpus in one Feed).
//
// BM_Baseline_MemchrLines finds every LF in the same buffer with memchr and
// does nothing else: a floor on the cost of looking at each byte once, which
// the parser cannot beat.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "core/sse/sse_parser.h"

namespace shadowcat {
namespace {

enum Corpus : int64_t { kSmallLf, kSmallCrLf, kLargeLf, kLargeCrLf };
constexpr size_t kCorpusBytes = 1 << 20;

std::string MakeCorpus(Corpus corpus) {
  const bool large = corpus == kLargeLf || corpus == kLargeCrLf;
  const absl::string_view eol =
      (corpus == kSmallCrLf || corpus == kLargeCrLf) ? "\r\n" : "\n";
  const std::string filler(large ? 3900 : 60, 'a');
  std::string out;
  out.reserve(kCorpusBytes + 8192);
  for (int i = 0; out.size() < kCorpusBytes; ++i) {
    if (i % 16 == 0) absl::StrAppend(&out, ": keepalive", eol, eol);
    std::string json =
        large ? absl::StrCat(R"({"jsonrpc":"2.0","id":)", i,
                             R"(,"result":{"content":[{"type":"text","text":")",
                             filler, R"("}],"isError":false}})")
              : absl::StrCat(
                    R"({"jsonrpc":"2.0","method":"notifications/progress",)",
                    R"("params":{"progressToken":"tok-)", i, R"(","progress":)",
                    i, R"(,"total":100000,"message":")", filler, R"("}})");
    absl::StrAppend(&out, "event: message", eol, "id: stream-0:", i, eol,
                    "data: ", json, eol, eol);
  }
  return out;
}

const std::string& CorpusBuffer(int64_t corpus) {
  static const std::string* const buffers = [] {
    auto* b = new std::string[4];
    for (int64_t c = 0; c < 4; ++c) b[c] = MakeCorpus(static_cast<Corpus>(c));
    return b;
  }();
  return buffers[corpus];
}

void BM_Baseline_MemchrLines(benchmark::State& state) {
  const std::string& buffer = CorpusBuffer(state.range(0));
  for (auto _ : state) {
    size_t lines = 0;
    const char* p = buffer.data();
    const char* const end = p + buffer.size();
    while (const void* hit =
               std::memchr(p, '\n', static_cast<size_t>(end - p))) {
      ++lines;
      p = static_cast<const char*>(hit) + 1;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(buffer.size()));
}
BENCHMARK(BM_Baseline_MemchrLines)->ArgName("corpus")->DenseRange(0, 3);

void BM_SseParser(benchmark::State& state) {
  const std::string& buffer = CorpusBuffer(state.range(0));
  const size_t chunk =
      state.range(1) == 0 ? buffer.size() : static_cast<size_t>(state.range(1));
  int64_t events = 0;
  for (auto _ : state) {
    // A fresh parser per iteration, as per HTTP response (WS-18).
    SseParser parser;
    size_t data_bytes = 0;
    const absl::string_view all(buffer);
    for (size_t pos = 0; pos < all.size(); pos += chunk) {
      absl::Status status =
          parser.Feed(all.substr(pos, chunk), [&](const SseEvent& e) {
            ++events;
            data_bytes += e.data.size();
          });
      if (!status.ok()) state.SkipWithError("parse failed");
    }
    parser.Finish();
    benchmark::DoNotOptimize(data_bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(buffer.size()));
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events),
                                                  benchmark::Counter::kIsRate);
}
// corpus: 0 small LF, 1 small CRLF, 2 large LF, 3 large CRLF. chunk: bytes per
// Feed, 0 = all.
BENCHMARK(BM_SseParser)
    ->ArgNames({"corpus", "chunk"})
    ->ArgsProduct({{kSmallLf, kSmallCrLf, kLargeLf, kLargeCrLf},
                   {64, 1460, 16384, 0}});

}  // namespace
}  // namespace shadowcat
