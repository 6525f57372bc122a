#include "tests/core/http/http_client_harness.h"

#include "absl/synchronization/notification.h"

namespace shadowcat {

HttpHandlers MakeHandlers(const std::shared_ptr<Recorder>& rec, Strand strand) {
  HttpHandlers handlers;
  handlers.on_head = [rec, strand](const HttpResponseHead& head) {
    absl::MutexLock lock(&rec->mu);
    if (!strand.running_in_this_thread()) rec->off_executor = true;
    if (rec->done_calls > 0 || rec->head.has_value())
      rec->called_after_done = true;
    rec->head = head;
  };
  handlers.on_body = [rec, strand](absl::string_view piece) {
    size_t count;
    {
      absl::MutexLock lock(&rec->mu);
      if (!strand.running_in_this_thread()) rec->off_executor = true;
      if (rec->done_calls > 0 || !rec->head.has_value())
        rec->called_after_done = true;
      rec->pieces.emplace_back(piece);
      rec->body.append(piece.data(), piece.size());
      count = rec->pieces.size();
    }
    if (rec->on_piece) rec->on_piece(count);
  };
  handlers.on_done = [rec, strand](absl::Status status) {
    absl::MutexLock lock(&rec->mu);
    if (!strand.running_in_this_thread()) rec->off_executor = true;
    if (rec->done_calls > 0) rec->called_after_done = true;
    ++rec->done_calls;
    rec->status = std::move(status);
  };
  return handlers;
}

std::shared_ptr<HttpExchange> Harness::StartPausingAtFirstPiece(
    HttpRequest request, const std::shared_ptr<Recorder>& rec) {
  struct PauseState {
    absl::Notification started;
    std::shared_ptr<HttpExchange> exchange;
  };
  auto state = std::make_shared<PauseState>();
  rec->on_piece = [state](size_t pieces) {
    if (pieces == 1) {
      state->started.WaitForNotification();  // `exchange` is assigned.
      state->exchange->Pause();
    }
  };
  state->exchange = Start(std::move(request), rec);
  std::shared_ptr<HttpExchange> exchange = state->exchange;
  state->started.Notify();
  return exchange;
}

void ExpectCleanCallbacks(const std::shared_ptr<Recorder>& rec) {
  absl::MutexLock lock(&rec->mu);
  EXPECT_EQ(rec->done_calls, 1);
  EXPECT_FALSE(rec->called_after_done);
  EXPECT_FALSE(rec->off_executor)
      << "a handler ran outside the executor given to Start()";
}

// Streams `count` chunks of `size` bytes, each after the previous one reached
// the socket.
void StreamChunks(std::shared_ptr<HttpResponseWriter> writer, int count,
                  size_t size, std::function<void()> after) {
  if (count == 0) {
    after();
    return;
  }
  writer->WriteChunk(std::string(size, 'a' + count % 26),
                     [writer, count, size, after = std::move(after)](bool ok) {
                       if (ok) StreamChunks(writer, count - 1, size, after);
                     });
}

}  // namespace shadowcat
