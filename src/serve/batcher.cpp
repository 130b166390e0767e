#include "hawkeye/serve/batcher.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <optional>

#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/serve/metrics.h"

namespace hawkeye::serve {

ScoringBatcher::ScoringBatcher(model::IqaModel& model, BatcherOptions options, ServeMetrics* metrics)
    : model_(model), options_(options), metrics_(metrics) {
  require(options_.max_batch >= 1, ErrorCode::invalid_argument, "--max-batch must be at least 1");
  require(options_.max_queue >= 1, ErrorCode::invalid_argument, "--max-queue must be at least 1");
  // OpenMP's thread count is per thread: a new thread would use every core, not --threads (on a busy machine
  // several times slower). The scoring thread takes the count of the thread that made the batcher.
  thread_ = std::thread([this, threads = at::get_num_threads()] {
    at::set_num_threads(threads);
    std::optional<ThreadGovernor> governor;
    if (options_.follow_load) governor.emplace(threads);
    run(governor ? &*governor : nullptr);
  });
}

ScoringBatcher::~ScoringBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<std::future<ordered_json>> ScoringBatcher::submit(std::vector<ScoreJob> jobs) {
  std::vector<std::future<ordered_json>> futures;
  futures.reserve(jobs.size());
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw QueueFull("the server is shutting down");
    if (queue_.size() + jobs.size() > options_.max_queue) {
      throw QueueFull(std::to_string(queue_.size()) + " images are waiting to be scored (at most " +
                      std::to_string(options_.max_queue) + "); try again shortly");
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& job : jobs) {
      Pending p{std::move(job), {}, now};
      futures.push_back(p.promise.get_future());
      queue_.push_back(std::move(p));
    }
    if (metrics_) metrics_->set_queue_depth(queue_.size());
  }
  wake_.notify_one();
  return futures;
}

std::size_t ScoringBatcher::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

// The next batch: the oldest image and, up to max_batch, the queued images with the same number of samples
// (one model call scores one sampling setting). Waits until the batch is full, max_wait has passed since the
// oldest image arrived, or the batcher stops. Empty = stopped with nothing left.
std::vector<ScoringBatcher::Pending> ScoringBatcher::next_batch() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return {};
  const std::int64_t samples = queue_.front().job.samples;
  const auto B = static_cast<std::size_t>(options_.max_batch);
  auto alike = [&] {
    return static_cast<std::size_t>(
        std::count_if(queue_.begin(), queue_.end(), [&](const Pending& p) { return p.job.samples == samples; }));
  };
  wake_.wait_until(lock, queue_.front().arrived + options_.max_wait, [&] { return stopping_ || alike() >= B; });
  std::vector<Pending> batch;
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < B;) {
    if (it->job.samples == samples) {
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  if (metrics_) metrics_->set_queue_depth(queue_.size());
  return batch;
}

void ScoringBatcher::run(ThreadGovernor* governor) {
  for (;;) {
    std::vector<Pending> batch = next_batch();
    if (batch.empty()) return;
    if (governor) governor->update();
    const std::int64_t samples = batch.front().job.samples;
    try {
      std::vector<const Image*> images;
      std::vector<std::string> identities;
      for (const auto& p : batch) {
        images.push_back(&p.job.image);
        identities.push_back(p.job.name);
      }
      const auto t0 = std::chrono::steady_clock::now();
      auto scores = model::score_images(model_, images, model::default_score_options(model_, samples, options_.seed), identities);
      if (metrics_) {
        metrics_->record_batch(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        eval::ScoredImage s;
        s.path = batch[i].job.name;
        s.result = std::move(scores[i]);
        s.status = s.result.status;
        eval::RecordFields fields;
        fields.reasoning = batch[i].job.reasoning;
        batch[i].promise.set_value(sanitize_json(eval::image_record(s, model_.contract(), samples, fields)));
      }
    } catch (...) {
      // A model error fails this batch's requests (HTTP 500), not the server.
      for (auto& p : batch) {
        try {
          p.promise.set_exception(std::current_exception());
        } catch (const std::future_error&) {
          // already satisfied
        }
      }
    }
  }
}

}  // namespace hawkeye::serve
