#include "tests/fakes/fake_sse_streams.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "tests/fakes/content_coding.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// Big enough to batch many small events per write, small enough that two
// unwritten chunks keep the fake's memory bounded against a stalled reader.
constexpr size_t kMaxChunkBytes = 64 << 10;
constexpr int kMaxChunksInFlight = 2;
constexpr absl::Duration kSlowWrite = absl::Milliseconds(10);
constexpr absl::string_view kKeepalive = ": keepalive\n\n";
constexpr absl::string_view kResponsePlaceholder = "$RESPONSE";

HttpHeaders SseHeaders() {
  return {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
}

// Empty `data` is a priming event (RZ-04): an id and an empty data field, no
// event type, so nothing reads it as a message.
std::string FormatEvent(absl::string_view id, std::optional<int> retry_ms,
                        absl::string_view data) {
  std::string event;
  if (!id.empty()) absl::StrAppend(&event, "id: ", id, "\n");
  if (retry_ms.has_value()) absl::StrAppend(&event, "retry: ", *retry_ms, "\n");
  if (data.empty()) return event + "data:\n\n";
  event += "event: message\n";
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    absl::StrAppend(&event, "data: ", absl::StripSuffix(line, "\r"), "\n");
  }
  return event + "\n";
}

// A notifications/message whose JSON text is about `bytes` long, numbered so
// a reader can check order and loss.
std::string FloodMessage(size_t seq, size_t bytes) {
  std::string head = absl::StrCat(
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{)",
      R"("level":"info","seq":)", seq, R"(,"data":")");
  constexpr absl::string_view kTail = R"("}})";
  const size_t fixed = head.size() + kTail.size();
  head.append(bytes > fixed ? bytes - fixed : 0, 'x');
  return absl::StrCat(head, kTail);
}

}  // namespace

struct FakeSseStreams::Stream {
  int64_t number = 0;
  bool ids = false;
  bool standalone = false;
  // Every event so far, as written on the wire.
  std::vector<std::string> events;
  // Goes with the next event appended.
  std::optional<int> pending_retry;

  // The producer: what the stream still has to send after `events`.
  size_t flood_total = 0;
  size_t flood_next = 0;
  size_t flood_bytes = 0;
  std::string hold_gate;
  std::string awaited_id;
  std::optional<std::string> response;
  bool finished = false;  // nothing more will be appended

  // The attached connection; null when detached.
  std::shared_ptr<HttpResponseWriter> writer;
  uint64_t gen = 0;  // tells this connection's callbacks from older ones'
  size_t cursor = 0;
  size_t sent = 0;  // events sent on this connection
  std::optional<size_t> drop_after;
  DropKind drop_kind = DropKind::kFin;
  int in_flight = 0;
  bool head_written = false;
  bool floods_here = false;
  // Compresses what this connection sends (SsePlan::content_encoding).
  std::unique_ptr<FlushedZlibStream> encoder;
  std::unique_ptr<asio::steady_timer> keepalive;

  bool DropDue() const { return drop_after.has_value() && sent >= *drop_after; }
};

FakeSseStreams::FakeSseStreams(asio::io_context& ioc,
                               StandaloneGetOptions standalone)
    : ioc_(ioc), standalone_(std::move(standalone)) {}

FakeSseStreams::~FakeSseStreams() = default;

void FakeSseStreams::Reply(std::shared_ptr<HttpResponseWriter> writer,
                           int status, HttpHeaders headers, SsePlan plan) {
  if (status == 204 || status == 304) {
    // No body is allowed, so there is no stream to run.
    writer->SendFull(status, std::move(headers), "");
    return;
  }
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  Stream& s = NewStreamLocked(plan.event_ids || plan.priming,
                              /*standalone=*/false);
  s.pending_retry = plan.retry_ms;
  if (plan.priming) AppendLocked(s, "");
  for (const std::string& message : plan.messages_before) {
    AppendLocked(s, message);
  }
  s.flood_total = plan.flood_events;
  s.flood_bytes = plan.flood_event_bytes;
  s.hold_gate = std::move(plan.hold_gate);
  s.awaited_id = std::move(plan.wait_for_response_to);
  s.response = std::move(plan.response);
  if (plan.send_buffer_bytes.has_value()) {
    writer->SetSendBufferBytes(*plan.send_buffer_bytes);
  }
  AttachLocked(s, std::move(writer), status, std::move(headers), /*cursor=*/0,
               plan.drop_after_events, plan.drop_kind, /*floods_here=*/true);
  s.encoder = FlushedZlibStream::Create(plan.content_encoding);
  AdvanceLocked(s);
}

void FakeSseStreams::Resume(std::shared_ptr<HttpResponseWriter> writer,
                            absl::string_view last_event_id,
                            const ResumeBehavior& behavior) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  if (behavior.status != 200) {
    writer->SendFull(behavior.status, {}, "");
    return;
  }
  auto it = event_index_.find(last_event_id);
  if (it == event_index_.end()) {
    writer->SendFull(404, {{"Content-Type", "text/plain"}},
                     "unknown Last-Event-ID\n");
    return;
  }
  Stream& s = *FindLocked(it->second.stream);
  if (s.writer != nullptr) {
    writer->SendFull(409, {{"Content-Type", "text/plain"}},
                     "Conflict: the stream is still open\n");
    return;
  }
  if (behavior.empty) {
    writer->StartStream(200, SseHeaders());
    writer->EndStream();
    return;
  }
  const size_t after = it->second.index + 1;
  AttachLocked(s, std::move(writer), 200, SseHeaders(),
               after - std::min(after, behavior.replay_overlap),
               behavior.drop_after_events, behavior.drop_kind,
               /*floods_here=*/false);
  AdvanceLocked(s);
}

void FakeSseStreams::OpenStandalone(
    std::shared_ptr<HttpResponseWriter> writer) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  if (Stream* current = FindLocked(standalone_stream_);
      current != nullptr && current->writer != nullptr) {
    writer->SendFull(409, {{"Content-Type", "text/plain"}},
                     "Conflict: Only one SSE stream is allowed per session\n");
    return;
  }
  Stream& s = NewStreamLocked(/*ids=*/true, /*standalone=*/true);
  standalone_stream_ = s.number;
  s.pending_retry = standalone_.retry_ms;
  if (standalone_.priming) AppendLocked(s, "");
  for (const std::string& json : pending_pushes_) AppendLocked(s, json);
  pending_pushes_.clear();
  AttachLocked(s, std::move(writer), 200, SseHeaders(), /*cursor=*/0,
               standalone_.drop_after_events, standalone_.drop_kind,
               /*floods_here=*/false);
  AdvanceLocked(s);
}

void FakeSseStreams::Push(std::string json) {
  asio::post(ioc_, [this, json = std::move(json)]() mutable {
    absl::MutexLock lock(&mu_);
    if (!shut_down_) PushLocked(std::move(json));
  });
}

void FakeSseStreams::PushLocked(std::string json) {
  Stream* s = FindLocked(standalone_stream_);
  if (s == nullptr) {
    pending_pushes_.push_back(std::move(json));
    return;
  }
  AppendLocked(*s, json);
  AdvanceLocked(*s);
}

void FakeSseStreams::Release(absl::string_view gate) {
  asio::post(ioc_, [this, gate = std::string(gate)] {
    std::vector<std::function<void()>> ready;
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      open_gates_.insert(gate);
      if (auto it = held_.find(gate); it != held_.end()) {
        ready = std::move(it->second);
        held_.erase(it);
      }
      for (auto& [number, s] : streams_) {
        if (s->hold_gate == gate) AdvanceLocked(*s);
      }
    }
    for (auto& then : ready) then();
  });
}

void FakeSseStreams::WhenReleased(absl::string_view gate,
                                  std::function<void()> then) {
  asio::post(
      ioc_, [this, gate = std::string(gate), then = std::move(then)]() mutable {
        {
          absl::MutexLock lock(&mu_);
          if (shut_down_) return;
          if (!open_gates_.contains(gate)) {
            held_[gate].push_back(std::move(then));
            return;
          }
        }
        then();
      });
}

void FakeSseStreams::OnClientResponse(std::string id_json,
                                      std::string payload) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  client_responses_[id_json] = std::move(payload);
  for (auto& [number, s] : streams_) {
    if (s->awaited_id == id_json) AdvanceLocked(*s);
  }
}

void FakeSseStreams::Shutdown() {
  std::vector<std::shared_ptr<HttpResponseWriter>> writers;
  absl::flat_hash_map<std::string, std::vector<std::function<void()>>> held;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (auto& [number, s] : streams_) {
      if (s->keepalive != nullptr) s->keepalive->cancel();
      if (s->writer != nullptr) writers.push_back(std::move(s->writer));
    }
    held = std::move(held_);
  }
  // Released outside the lock: held callbacks own writers too.
}

FloodStats FakeSseStreams::flood_stats() const {
  absl::MutexLock lock(&mu_);
  return flood_stats_;
}

size_t FakeSseStreams::client_disconnects() const {
  absl::MutexLock lock(&mu_);
  return client_disconnects_;
}

testing::AssertionResult FakeSseStreams::WaitForFloodBlocked(
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (mu_.AwaitWithTimeout(absl::Condition(&flood_blocked_), timeout)) {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure()
         << "waited " << timeout << " for a flood write to take over "
         << kSlowWrite << "; flood events sent: " << flood_stats_.events_sent;
}

testing::AssertionResult FakeSseStreams::WaitForGetStreamOpen(
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stream* s = FindLocked(standalone_stream_);
    return s != nullptr && s->writer != nullptr && s->head_written;
  };
  if (mu_.AwaitWithTimeout(absl::Condition(&open), timeout)) {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure()
         << "waited " << timeout << " for an open standalone GET stream";
}

testing::AssertionResult FakeSseStreams::WaitForClientDisconnect(
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return client_disconnects_ > disconnects_claimed_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&gone), timeout)) {
    return testing::AssertionFailure()
           << "waited " << timeout << " for a client to leave an SSE stream; "
           << disconnects_claimed_ << " seen before";
  }
  ++disconnects_claimed_;
  return testing::AssertionSuccess();
}

FakeSseStreams::Stream& FakeSseStreams::NewStreamLocked(bool ids,
                                                        bool standalone) {
  auto stream = std::make_unique<Stream>();
  stream->number = next_stream_++;
  stream->ids = ids;
  stream->standalone = standalone;
  Stream& s = *stream;
  streams_.emplace(s.number, std::move(stream));
  return s;
}

FakeSseStreams::Stream* FakeSseStreams::FindLocked(int64_t number) {
  auto it = streams_.find(number);
  return it == streams_.end() ? nullptr : it->second.get();
}

void FakeSseStreams::AppendLocked(Stream& s, absl::string_view data) {
  // Opaque, unique across the server, and naming the stream (RZ-08).
  const std::string id =
      s.ids ? absl::StrCat("s", s.number, "-e", s.events.size() + 1) : "";
  s.events.push_back(FormatEvent(id, s.pending_retry, data));
  s.pending_retry.reset();
  if (!id.empty()) event_index_[id] = {s.number, s.events.size() - 1};
}

void FakeSseStreams::AttachLocked(Stream& s,
                                  std::shared_ptr<HttpResponseWriter> writer,
                                  int status, HttpHeaders headers,
                                  size_t cursor,
                                  std::optional<size_t> drop_after,
                                  DropKind drop_kind, bool floods_here) {
  s.writer = std::move(writer);
  s.gen = next_gen_++;
  s.cursor = cursor;
  s.sent = 0;
  s.drop_after = drop_after;
  s.drop_kind = drop_kind;
  s.head_written = false;
  s.floods_here = floods_here;
  s.writer->StartStream(status, std::move(headers));
  s.writer->NotifyOnClose([this, number = s.number, gen = s.gen] {
    OnConnectionClosed(number, gen);
  });
  // A zero-byte write reports when the head is out, and holds back a drop
  // after zero events until then.
  ++s.in_flight;
  s.writer->WriteChunk("", [this, number = s.number, gen = s.gen](bool ok) {
    OnWritten(number, gen, ok, absl::Now(), 0);
  });
  if (s.standalone && standalone_.keepalive_interval.has_value()) {
    s.keepalive = std::make_unique<asio::steady_timer>(ioc_);
    ArmKeepaliveLocked(s);
  }
}

void FakeSseStreams::ArmKeepaliveLocked(Stream& s) {
  s.keepalive->expires_after(
      absl::ToChronoNanoseconds(*standalone_.keepalive_interval));
  s.keepalive->async_wait([this, number = s.number,
                           gen = s.gen](boost::system::error_code ec) {
    if (ec) return;
    absl::MutexLock lock(&mu_);
    Stream* s = FindLocked(number);
    if (shut_down_ || s == nullptr || s->gen != gen || s->writer == nullptr) {
      return;
    }
    s->writer->WriteChunk(std::string(kKeepalive));
    ArmKeepaliveLocked(*s);
  });
}

void FakeSseStreams::AdvanceLocked(Stream& s) {
  while (!s.finished && !s.standalone) {
    if (s.flood_next < s.flood_total) {
      if (s.writer != nullptr && s.floods_here) break;  // the pump floods
      s.flood_next = s.flood_total;  // lost with its connection
      continue;
    }
    if (!s.hold_gate.empty()) {
      if (!open_gates_.contains(s.hold_gate)) break;
      s.hold_gate.clear();
    }
    if (!s.awaited_id.empty()) {
      auto it = client_responses_.find(s.awaited_id);
      if (it == client_responses_.end()) break;
      if (s.response.has_value()) {
        s.response = absl::StrReplaceAll(*s.response,
                                         {{kResponsePlaceholder, it->second}});
      }
      s.awaited_id.clear();
    }
    if (s.response.has_value()) AppendLocked(s, *s.response);
    s.response.reset();
    s.finished = true;
  }
  PumpLocked(s);
}

void FakeSseStreams::PumpLocked(Stream& s) {
  if (s.writer == nullptr) return;
  while (s.in_flight < kMaxChunksInFlight) {
    std::string chunk;
    size_t flood_events = 0;
    while (chunk.size() < kMaxChunkBytes && !s.DropDue()) {
      if (s.cursor < s.events.size()) {
        chunk += s.events[s.cursor++];
      } else if (s.floods_here && s.flood_next < s.flood_total) {
        chunk += FormatEvent("", std::nullopt,
                             FloodMessage(s.flood_next++, s.flood_bytes));
        ++flood_events;
      } else {
        break;
      }
      ++s.sent;
    }
    if (chunk.empty()) break;
    WriteLocked(s, std::move(chunk), flood_events);
  }
  // Drops and ends wait for every write, so the client gets all bytes sent.
  if (s.in_flight > 0) return;
  if (s.DropDue()) {
    if (s.drop_kind == DropKind::kRst) {
      s.writer->AbortWithReset();
    } else {
      s.writer->Abort();
    }
    DetachLocked(s, /*client_gone=*/false);
    AdvanceLocked(s);  // a flood cut short lets the producer go on
    return;
  }
  const bool flooding = s.floods_here && s.flood_next < s.flood_total;
  if (s.finished && s.cursor == s.events.size() && !flooding) {
    if (s.encoder != nullptr) s.writer->WriteChunk(s.encoder->Finish());
    s.writer->EndStream();
    DetachLocked(s, /*client_gone=*/false);
  }
}

void FakeSseStreams::WriteLocked(Stream& s, std::string chunk,
                                 size_t flood_events) {
  if (s.encoder != nullptr) {
    // All but the last piece go out unwatched; the last one's completion
    // stands for the whole chunk.
    std::string compressed = s.encoder->Write(chunk);
    size_t at = 0;
    for (size_t piece = 1; compressed.size() - at > piece;
         piece = piece % 7 + 1) {
      s.writer->WriteChunk(compressed.substr(at, piece));
      at += piece;
    }
    chunk = compressed.substr(at);
  }
  ++s.in_flight;
  if (flood_events > 0) {
    // A timer per chunk rather than a cancelled one: it outlives the write by
    // at most kSlowWrite and needs no cross-thread cancel.
    const uint64_t serial = next_flood_write_++;
    flood_writes_in_flight_.insert(serial);
    auto timer = std::make_shared<asio::steady_timer>(
        ioc_, absl::ToChronoNanoseconds(kSlowWrite));
    timer->async_wait([this, timer, serial](boost::system::error_code ec) {
      if (ec) return;
      absl::MutexLock lock(&mu_);
      if (flood_writes_in_flight_.contains(serial)) flood_blocked_ = true;
    });
    s.writer->WriteChunk(std::move(chunk),
                         [this, number = s.number, gen = s.gen, serial,
                          queued = absl::Now(), flood_events](bool ok) {
                           {
                             absl::MutexLock lock(&mu_);
                             flood_writes_in_flight_.erase(serial);
                           }
                           OnWritten(number, gen, ok, queued, flood_events);
                         });
    return;
  }
  s.writer->WriteChunk(std::move(chunk), [this, number = s.number, gen = s.gen,
                                          queued = absl::Now()](bool ok) {
    OnWritten(number, gen, ok, queued, 0);
  });
}

void FakeSseStreams::DetachLocked(Stream& s, bool client_gone) {
  if (client_gone) ++client_disconnects_;
  s.writer.reset();
  s.encoder.reset();
  s.in_flight = 0;
  if (s.keepalive != nullptr) {
    s.keepalive->cancel();
    s.keepalive.reset();
  }
}

void FakeSseStreams::OnWritten(int64_t stream, uint64_t gen, bool ok,
                               absl::Time queued, size_t flood_events) {
  absl::MutexLock lock(&mu_);
  Stream* s = FindLocked(stream);
  if (shut_down_ || s == nullptr || s->gen != gen || s->writer == nullptr) {
    return;
  }
  --s->in_flight;
  if (!ok) {
    DetachLocked(*s, /*client_gone=*/true);
    AdvanceLocked(*s);
    return;
  }
  s->head_written = true;
  if (flood_events > 0) {
    const absl::Duration wait = absl::Now() - queued;
    flood_stats_.events_sent += flood_events;
    flood_stats_.max_write_wait = std::max(flood_stats_.max_write_wait, wait);
    flood_stats_.total_write_wait += wait;
    if (wait > kSlowWrite) ++flood_stats_.writes_waited_over_10ms;
  }
  AdvanceLocked(*s);
}

void FakeSseStreams::OnConnectionClosed(int64_t stream, uint64_t gen) {
  absl::MutexLock lock(&mu_);
  Stream* s = FindLocked(stream);
  if (shut_down_ || s == nullptr || s->gen != gen || s->writer == nullptr) {
    return;
  }
  DetachLocked(*s, /*client_gone=*/true);
  AdvanceLocked(*s);
}

}  // namespace shadowcat
