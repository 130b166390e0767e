// Dynamic batching for `hawkeye serve`: HTTP worker threads queue decoded images, one scoring thread gathers
// them into model batches (up to max_batch images, waiting at most max_wait after the oldest arrived) and
// hands each image its own record. Records are those of `hawkeye score` (eval::image_record), so the same
// image gets the same greedy score bit for bit (scores do not depend on the batch, test_batch_scoring.cpp).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/image.h"

namespace hawkeye {
class ThreadGovernor;
}

namespace hawkeye::model {
class IqaModel;
}

namespace hawkeye::serve {

class ServeMetrics;

struct BatcherOptions {
  std::int64_t max_batch = 16;                  // images per model batch
  std::chrono::milliseconds max_wait{10};       // longest wait for more images after the oldest queued one arrived
  std::size_t max_queue = 256;                  // images waiting to be scored; beyond: QueueFull (HTTP 503)
  std::uint64_t seed = 0;                       // run seed of sampled answers (derive_seed(seed, name))
  // true: before each batch the scoring thread's thread count follows the machine's load, up to the count of
  // the thread that made the batcher (ThreadGovernor, model/runtime.h); false: that count, fixed.
  bool follow_load = false;
};

// One image to score. `name` (the client's file name) labels the record's "path" and seeds sampled answers,
// as the path does in `hawkeye score`; it never names a file that is opened.
struct ScoreJob {
  Image image;
  std::string name;
  std::int64_t samples = 0;  // 0 = greedy, K > 0 = K sampled answers
  bool reasoning = true;     // the record carries "reasoning"
};

// Thrown by submit when the queue cannot take the images.
class QueueFull : public Error {
 public:
  explicit QueueFull(const std::string& message) : Error(ErrorCode::limit_exceeded, message) {}
};

class ScoringBatcher {
 public:
  // The model must outlive the batcher; the scoring thread is the only one that touches it.
  ScoringBatcher(model::IqaModel& model, BatcherOptions options, ServeMetrics* metrics = nullptr);
  ~ScoringBatcher();  // finishes the queued images, then ends the scoring thread
  ScoringBatcher(const ScoringBatcher&) = delete;
  ScoringBatcher& operator=(const ScoringBatcher&) = delete;

  // Queues all of `jobs` or none (QueueFull). Each future yields the image's record (as `hawkeye score`
  // writes it, non-finite numbers as null), or rethrows the model's error.
  std::vector<std::future<ordered_json>> submit(std::vector<ScoreJob> jobs);

  std::size_t queued() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending {
    ScoreJob job;
    std::promise<ordered_json> promise;
    std::chrono::steady_clock::time_point arrived;
  };
  void run(ThreadGovernor* governor);
  std::vector<Pending> next_batch();

  model::IqaModel& model_;
  BatcherOptions options_;
  ServeMetrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hawkeye::serve
