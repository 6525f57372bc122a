// ContentDecoder (PX-07): every coding it decodes, fed in odd pieces and read
// into small buffers; the failures it must name; and the bound on what one
// Read() produces, which is what holds a decompression bomb to the caller's
// limits.

#include "core/http/content_decoder.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/content_coding.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Text that compresses, but not to nothing: JSON-RPC-like lines with numbers.
std::string SampleText(size_t lines) {
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    absl::StrAppend(&text, R"({"jsonrpc":"2.0","method":"notifications/)",
                    R"(message","params":{"seq":)", i * 7919 % 10007, "}}\n");
  }
  return text;
}

std::unique_ptr<ContentDecoder> MustCreate(absl::string_view coding) {
  absl::StatusOr<std::unique_ptr<ContentDecoder>> decoder =
      ContentDecoder::Create(coding);
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  EXPECT_NE(decoder.ok() ? decoder->get() : nullptr, nullptr) << coding;
  return decoder.ok() ? *std::move(decoder) : nullptr;
}

// Reads everything the decoder has into `out`, `buffer_size` at a time.
absl::Status Drain(ContentDecoder& decoder, size_t buffer_size,
                   std::string& out) {
  std::string buffer(buffer_size, '\0');
  while (!decoder.NeedsInput()) {
    absl::StatusOr<size_t> n = decoder.Read(buffer.data(), buffer.size());
    if (!n.ok()) return n.status();
    EXPECT_LE(*n, buffer_size);
    out.append(buffer.data(), *n);
  }
  return absl::OkStatus();
}

// Feeds `encoded` in pieces of `piece` bytes, draining after each.
absl::StatusOr<std::string> DecodeAll(ContentDecoder& decoder,
                                      absl::string_view encoded, size_t piece,
                                      size_t buffer_size) {
  std::string out;
  for (size_t at = 0; at < encoded.size(); at += piece) {
    decoder.Feed(encoded.substr(at, piece));
    if (absl::Status status = Drain(decoder, buffer_size, out); !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = decoder.Finish(); !status.ok()) return status;
  return out;
}

class CodingTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CodingTest, PX07_RoundTripsWhateverThePieceSizes) {
  const std::string text = SampleText(2000);
  std::optional<std::string> encoded = EncodeContent(GetParam(), text);
  ASSERT_TRUE(encoded.has_value());
  ASSERT_LT(encoded->size(), text.size() / 4);
  const std::string header =
      GetParam() == "deflate-raw" ? "deflate" : GetParam();
  for (size_t piece : {size_t{1}, size_t{3}, size_t{1000}, encoded->size()}) {
    for (size_t buffer : {size_t{7}, size_t{8192}}) {
      SCOPED_TRACE(absl::StrCat("piece ", piece, ", buffer ", buffer));
      std::unique_ptr<ContentDecoder> decoder = MustCreate(header);
      ASSERT_NE(decoder, nullptr);
      absl::StatusOr<std::string> decoded =
          DecodeAll(*decoder, *encoded, piece, buffer);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, text);
    }
  }
}

// A stream flushed after every write (how a server compresses SSE) decodes
// each write whole as soon as its bytes arrive, before the stream ends.
TEST_P(CodingTest, PX07_FlushedStreamDecodesEachWriteAtOnce) {
  std::unique_ptr<FlushedZlibStream> stream =
      FlushedZlibStream::Create(GetParam());
  if (stream == nullptr) GTEST_SKIP() << "no flushed stream for " << GetParam();
  std::unique_ptr<ContentDecoder> decoder =
      MustCreate(GetParam() == "deflate-raw" ? "deflate" : GetParam());
  ASSERT_NE(decoder, nullptr);
  std::string written;
  std::string decoded;
  for (int i = 0; i < 50; ++i) {
    const std::string event =
        absl::StrCat("id: ", i, "\nevent: message\ndata: {\"n\":", i, "}\n\n");
    written += event;
    const std::string compressed = stream->Write(event);
    // Odd splits: 5 bytes, then the rest.
    decoder->Feed(absl::string_view(compressed).substr(0, 5));
    ASSERT_TRUE(Drain(*decoder, 11, decoded).ok());
    decoder->Feed(absl::string_view(compressed).substr(5));
    ASSERT_TRUE(Drain(*decoder, 11, decoded).ok());
    ASSERT_EQ(decoded, written) << "event " << i << " is not readable yet";
  }
  decoder->Feed(stream->Finish());
  ASSERT_TRUE(Drain(*decoder, 11, decoded).ok());
  EXPECT_TRUE(decoder->Finish().ok());
  EXPECT_EQ(decoded, written);
}

INSTANTIATE_TEST_SUITE_P(Codings, CodingTest,
                         ::testing::Values("gzip", "x-gzip", "deflate",
                                           "deflate-raw", "br"));

TEST(ContentDecoderTest, PX07_NoneOrIdentityNeedsNoDecoder) {
  for (const char* value : {"", "identity", " Identity ", "identity, ,"}) {
    absl::StatusOr<std::unique_ptr<ContentDecoder>> decoder =
        ContentDecoder::Create(value);
    ASSERT_TRUE(decoder.ok()) << value << ": " << decoder.status();
    EXPECT_EQ(*decoder, nullptr) << value;
  }
  std::unique_ptr<ContentDecoder> gzip = MustCreate(" GZip ");
  ASSERT_NE(gzip, nullptr);
  EXPECT_EQ(gzip->name(), "gzip");
}

TEST(ContentDecoderTest, PX07_UnknownOrStackedCodingIsRefusedByName) {
  absl::StatusOr<std::unique_ptr<ContentDecoder>> compress =
      ContentDecoder::Create("compress");
  EXPECT_EQ(compress.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(compress.status().message(),
              HasSubstr("Content-Encoding \"compress\" is not supported"));
  EXPECT_THAT(compress.status().message(), HasSubstr("gzip, deflate, br"));

  absl::StatusOr<std::unique_ptr<ContentDecoder>> stacked =
      ContentDecoder::Create("gzip, br");
  EXPECT_EQ(stacked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(stacked.status().message(), HasSubstr("stacked"));

  // An upstream's bytes are escaped and cut short in the message.
  absl::StatusOr<std::unique_ptr<ContentDecoder>> odd =
      ContentDecoder::Create(absl::StrCat("x\x01y", std::string(100, 'z')));
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(odd.status().message(), HasSubstr("x\\x01y"));
  EXPECT_THAT(odd.status().message(), Not(HasSubstr(std::string(50, 'z'))));
}

TEST(ContentDecoderTest, PX07_CorruptDataIsDataLossNamingTheCoding) {
  for (const char* coding : {"gzip", "deflate", "br"}) {
    SCOPED_TRACE(coding);
    std::unique_ptr<ContentDecoder> decoder = MustCreate(coding);
    ASSERT_NE(decoder, nullptr);
    absl::StatusOr<std::string> decoded = DecodeAll(
        *decoder, "this is plain text, not compressed data at all", 64, 64);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(decoded.status().message(),
                HasSubstr(absl::StrCat("corrupt ", coding, " body")));
  }
  // A flipped bit in the middle of real data: the CRC or the block structure
  // tells.
  std::string gzip = *EncodeContent("gzip", SampleText(100));
  gzip[gzip.size() / 2] ^= 0x10;
  std::unique_ptr<ContentDecoder> decoder = MustCreate("gzip");
  ASSERT_NE(decoder, nullptr);
  EXPECT_EQ(DecodeAll(*decoder, gzip, 100, 100).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(ContentDecoderTest, PX07_TruncatedBodyIsDataLossAtFinish) {
  const std::string text = SampleText(500);
  for (const char* coding : {"gzip", "deflate", "br"}) {
    SCOPED_TRACE(coding);
    const std::string encoded = *EncodeContent(coding, text);
    std::unique_ptr<ContentDecoder> decoder = MustCreate(coding);
    ASSERT_NE(decoder, nullptr);
    std::string out;
    decoder->Feed(absl::string_view(encoded).substr(0, encoded.size() / 2));
    ASSERT_TRUE(Drain(*decoder, 4096, out).ok());
    EXPECT_LT(out.size(), text.size());
    EXPECT_EQ(out, text.substr(0, out.size()));
    absl::Status finish = decoder->Finish();
    EXPECT_EQ(finish.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(finish.message(), HasSubstr("truncated"));
  }
}

TEST(ContentDecoderTest, PX07_EmptyBodyIsFine) {
  // A 202 or 204 labelled gzip carries no bytes at all.
  std::unique_ptr<ContentDecoder> decoder = MustCreate("gzip");
  ASSERT_NE(decoder, nullptr);
  EXPECT_TRUE(decoder->NeedsInput());
  EXPECT_TRUE(decoder->Finish().ok());
}

TEST(ContentDecoderTest, PX07_GzipMembersInARowAreOneBody) {
  // RFC 1952 2.2: a gzip file is a series of members.
  const std::string body =
      *EncodeContent("gzip", "first,") + *EncodeContent("gzip", "second");
  std::unique_ptr<ContentDecoder> decoder = MustCreate("gzip");
  ASSERT_NE(decoder, nullptr);
  absl::StatusOr<std::string> decoded = DecodeAll(*decoder, body, 3, 5);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "first,second");
}

TEST(ContentDecoderTest, PX07_DataAfterTheEndIsDataLossForDeflateAndBr) {
  for (const char* coding : {"deflate", "br"}) {
    SCOPED_TRACE(coding);
    const std::string body = *EncodeContent(coding, "done") + "trailing";
    std::unique_ptr<ContentDecoder> decoder = MustCreate(coding);
    ASSERT_NE(decoder, nullptr);
    absl::StatusOr<std::string> decoded = DecodeAll(*decoder, body, 100, 100);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(decoded.status().message(), HasSubstr("after the end"));
  }
}

// A decompression bomb: 64 MiB of zeros in ~64 KiB of gzip, fed whole. Each
// Read() gives at most the caller's buffer, so a caller that stops (a limit,
// a pause) stops the inflating too: the decoder never holds the expansion.
TEST(ContentDecoderTest, PX07_BombOutputComesOnlyAsFastAsItIsRead) {
  constexpr size_t kExpanded = 64 << 20;
  const std::string bomb = *EncodeContent("gzip", std::string(kExpanded, '\0'));
  ASSERT_LT(bomb.size(), kExpanded / 500);
  std::unique_ptr<ContentDecoder> decoder = MustCreate("gzip");
  ASSERT_NE(decoder, nullptr);
  decoder->Feed(bomb);
  std::string buffer(4096, '\1');
  size_t total = 0;
  size_t reads = 0;
  // Stop at a 1 MiB "limit": 256 reads, each exactly one buffer.
  while (total < (1 << 20)) {
    absl::StatusOr<size_t> n = decoder->Read(buffer.data(), buffer.size());
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, buffer.size());
    total += *n;
    ++reads;
  }
  EXPECT_EQ(reads, 256u);
  EXPECT_FALSE(decoder->NeedsInput()) << "the rest waits, not decoded";
  // Reading on gets exactly the rest, and the stream ends cleanly.
  while (!decoder->NeedsInput()) {
    absl::StatusOr<size_t> n = decoder->Read(buffer.data(), buffer.size());
    ASSERT_TRUE(n.ok()) << n.status();
    total += *n;
  }
  EXPECT_EQ(total, kExpanded);
  EXPECT_TRUE(decoder->Finish().ok());
}

}  // namespace
}  // namespace shadowcat
