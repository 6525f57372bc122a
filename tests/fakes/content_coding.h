#ifndef SHADOWCAT_TESTS_FAKES_CONTENT_CODING_H_
#define SHADOWCAT_TESTS_FAKES_CONTENT_CODING_H_

// The encoding side of Content-Encoding (PX-07), for fake upstreams and
// tests: whole bodies, and a stream flushed after every write, the way a
// server compresses text/event-stream so each event can be read at once.
//
// Not thread-safe; each FlushedZlibStream belongs to one response.

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace shadowcat {

// `data` encoded with `coding`: "gzip" or "x-gzip", "deflate" (with the zlib
// wrapper, RFC 9110 8.4.1.2), "deflate-raw" (raw RFC 1951 data, which some
// servers send as deflate), "br". nullopt for any other coding.
std::optional<std::string> EncodeContent(absl::string_view coding,
                                         absl::string_view data);

// A gzip or deflate stream written piece by piece. Each Write() ends with a
// sync flush, so a decoder given everything returned so far can decode
// everything written so far.
class FlushedZlibStream {
 public:
  // For "gzip", "x-gzip", "deflate" and "deflate-raw"; null for any other
  // coding.
  static std::unique_ptr<FlushedZlibStream> Create(absl::string_view coding);
  ~FlushedZlibStream();
  FlushedZlibStream(const FlushedZlibStream&) = delete;
  FlushedZlibStream& operator=(const FlushedZlibStream&) = delete;

  // The compressed bytes of `data`, flushed.
  std::string Write(absl::string_view data);
  // The compressed bytes of `data`, then the end of the stream (and the gzip
  // trailer).
  std::string Finish(absl::string_view data = "");

 private:
  struct State;
  explicit FlushedZlibStream(std::unique_ptr<State> state);
  std::string Run(absl::string_view data, int flush);

  std::unique_ptr<State> state_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_CONTENT_CODING_H_
