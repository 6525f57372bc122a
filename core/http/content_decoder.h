#ifndef SHADOWCAT_CORE_HTTP_CONTENT_DECODER_H_
#define SHADOWCAT_CORE_HTTP_CONTENT_DECODER_H_

// Streaming decoder of a response body's Content-Encoding (RFC 9110 8.4.1;
// PX-07): gzip (also as x-gzip), deflate (zlib-wrapped as RFC 9110 says, or
// raw, as some servers send it) and br. Pure: no I/O.
//
// Compressed bytes go in with Feed(); decoded bytes come out with Read(), at
// most as many as the caller's buffer holds. The decoder keeps only the input
// not yet decoded and the codec's own window, so a caller that reads in
// bounded pieces, and feeds more only once NeedsInput(), bounds its memory
// whatever the compression ratio: a decompression bomb meets the caller's
// limits piece by piece instead of filling memory. Between two Read() calls
// the caller may stop (backpressure) for as long as it likes.
//
// Errors are DataLoss and name the coding: an unsupported Content-Encoding
// (Create), corrupt data (Read), a body that ends before its compressed data
// does (Finish).
//
// Not thread-safe: one body, one thread (or strand) at a time. Owns its codec
// state and frees it on destruction.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// The Accept-Encoding request header value naming every coding
// ContentDecoder decodes, most preferred first: "gzip, deflate, br".
absl::string_view AcceptEncodingValue();

class ContentDecoder {
 public:
  // The decoder for `content_encoding`, a Content-Encoding value (several
  // header fields joined with ","): null for none or "identity"; DataLoss
  // naming the coding for anything else decoded here, and for stacked
  // codings ("gzip, br"), which no MCP server sends.
  static absl::StatusOr<std::unique_ptr<ContentDecoder>> Create(
      absl::string_view content_encoding);

  virtual ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  // "gzip", "deflate" or "br", for messages.
  const std::string& name() const { return name_; }

  // Hands over the next compressed bytes (copied).
  void Feed(absl::string_view compressed);

  // Decodes into `out[0, size)`; returns the number of bytes written, 0 when
  // everything fed so far is decoded and delivered (NeedsInput()).
  absl::StatusOr<size_t> Read(char* out, size_t size);

  // True when Read() has nothing more to give until the next Feed(): it
  // returned 0, or nothing was fed yet.
  bool NeedsInput() const { return needs_input_; }

  // The body ended. OK when the compressed data ended too, or when the body
  // was empty (a 202 or 204 labelled gzip); DataLoss for a truncated body.
  // Call once NeedsInput(); what Read() did not decode by then is lost.
  absl::Status Finish() const;

 protected:
  explicit ContentDecoder(std::string name) : name_(std::move(name)) {}

  // One codec call: decodes from `in`, writing at most `size` bytes to `out`.
  struct Step {
    size_t consumed = 0;
    size_t produced = 0;
    bool more_output = false;  // `out` was too small for what is ready
    bool ended = false;        // the compressed data's end was decoded
  };
  virtual absl::StatusOr<Step> Decode(absl::string_view in, char* out,
                                      size_t size) = 0;
  // Input after the end of the compressed data: OK to go on (gzip allows
  // several members in a row, RFC 1952 2.2), else why not.
  virtual absl::Status NextMember() = 0;

  absl::Status Corrupt(absl::string_view why) const;

 private:
  const std::string name_;
  std::string input_;
  size_t offset_ = 0;  // input_[0, offset_) is decoded
  bool output_pending_ = false;
  bool needs_input_ = true;
  bool ended_ = false;
  bool fed_ = false;  // any byte at all
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_CONTENT_DECODER_H_
