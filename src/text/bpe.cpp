#include "text/bpe.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace hawkeye::text_detail {

namespace {
constexpr std::uint64_t kEmptyKey = ~std::uint64_t{0};

inline std::uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}
inline std::uint64_t mix(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}
}  // namespace

BpeModel::BpeModel(TokenIndex vocab, const std::array<TokenId, 256>& byte_ids, std::vector<Merge> merges,
                   bool ignore_merges)
    : vocab_(std::move(vocab)), byte_ids_(byte_ids), merges_(std::move(merges)), ignore_merges_(ignore_merges) {
  std::size_t cap = 16;
  while (cap < merges_.size() * 2) cap <<= 1;
  table_.assign(cap, MergeSlot{kEmptyKey, kNoRank});
  table_mask_ = cap - 1;
  for (std::size_t r = 0; r < merges_.size(); ++r) {
    const std::uint64_t key = pair_key(merges_[r].left, merges_[r].right);
    std::uint64_t slot = mix(key) & table_mask_;
    while (table_[slot].key != kEmptyKey && table_[slot].key != key) slot = (slot + 1) & table_mask_;
    if (table_[slot].key == kEmptyKey) table_[slot] = {key, static_cast<std::uint32_t>(r)};  // duplicates: first wins
  }
  for (CacheShard& shard : cache_) shard.slots.resize(kCacheSlotsPerShard);
}

std::uint32_t BpeModel::rank_of(TokenId a, TokenId b) const {
  const std::uint64_t key = pair_key(a, b);
  std::uint64_t slot = mix(key) & table_mask_;
  for (;;) {
    const MergeSlot& e = table_[slot];
    if (e.key == key) return e.rank;
    if (e.key == kEmptyKey) return kNoRank;
    slot = (slot + 1) & table_mask_;
  }
}

bool BpeModel::cache_lookup(CacheShard& shard, std::uint64_t hash, std::string_view word,
                            std::vector<TokenId>& out) const {
  std::size_t slot = hash & (kCacheSlotsPerShard - 1);
  for (;;) {
    const CacheShard::Slot& e = shard.slots[slot];
    if (e.key_length == 0) return false;
    if (e.hash == hash && e.key_length == word.size() &&
        std::memcmp(shard.keys.data() + e.key_offset, word.data(), word.size()) == 0) {
      const TokenId* ids = shard.ids.data() + e.ids_offset;
      out.insert(out.end(), ids, ids + e.ids_length);
      return true;
    }
    slot = (slot + 1) & (kCacheSlotsPerShard - 1);
  }
}

void BpeModel::cache_store(CacheShard& shard, std::uint64_t hash, std::string_view word, const TokenId* ids,
                           std::size_t n) const {
  if (shard.used >= kCacheEntriesPerShard) {  // half full: start over
    std::fill(shard.slots.begin(), shard.slots.end(), CacheShard::Slot{});
    shard.keys.clear();
    shard.ids.clear();
    shard.used = 0;
  }
  std::size_t slot = hash & (kCacheSlotsPerShard - 1);
  while (shard.slots[slot].key_length != 0) {
    const CacheShard::Slot& e = shard.slots[slot];
    if (e.hash == hash && e.key_length == word.size() &&
        std::memcmp(shard.keys.data() + e.key_offset, word.data(), word.size()) == 0) {
      return;  // another thread stored it meanwhile
    }
    slot = (slot + 1) & (kCacheSlotsPerShard - 1);
  }
  CacheShard::Slot& e = shard.slots[slot];
  e.hash = hash;
  e.key_offset = static_cast<std::uint32_t>(shard.keys.size());
  e.key_length = static_cast<std::uint16_t>(word.size());
  e.ids_offset = static_cast<std::uint32_t>(shard.ids.size());
  e.ids_length = static_cast<std::uint16_t>(n);
  shard.keys.append(word);
  shard.ids.insert(shard.ids.end(), ids, ids + n);
  ++shard.used;
}

void BpeModel::run_merges(std::string_view word, std::vector<TokenId>& out, Scratch& s) const {
  const auto n = static_cast<std::uint32_t>(word.size());
  constexpr std::uint32_t kEnd = 0xFFFFFFFFu;
  s.sym.resize(n);
  s.next.resize(n);
  s.prev.resize(n);
  s.heap.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    s.sym[i] = byte_ids_[static_cast<unsigned char>(word[i])];
    s.next[i] = i + 1 < n ? i + 1 : kEnd;
    s.prev[i] = i > 0 ? i - 1 : kEnd;
  }
  // Heap entries: (rank << 32 | left position); the smallest pops first, so equal ranks go leftmost first.
  auto push = [&](std::uint32_t pos) {
    const std::uint32_t nx = s.next[pos];
    if (nx == kEnd) return;
    const std::uint32_t r = rank_of(s.sym[pos], s.sym[nx]);
    if (r == kNoRank) return;
    s.heap.push_back((static_cast<std::uint64_t>(r) << 32) | pos);
    std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>());
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    const std::uint32_t r = rank_of(s.sym[i], s.sym[i + 1]);
    if (r != kNoRank) s.heap.push_back((static_cast<std::uint64_t>(r) << 32) | i);
  }
  std::make_heap(s.heap.begin(), s.heap.end(), std::greater<>());
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>());
    const std::uint64_t top = s.heap.back();
    s.heap.pop_back();
    const auto rank = static_cast<std::uint32_t>(top >> 32);
    const auto pos = static_cast<std::uint32_t>(top & 0xFFFFFFFFu);
    const std::uint32_t nx = s.next[pos];
    if (s.sym[pos] < 0 || nx == kEnd) continue;  // stale: the left symbol was merged away or has no right
    const Merge& m = merges_[rank];
    if (s.sym[pos] != m.left || s.sym[nx] != m.right) continue;  // stale: the pair changed
    s.sym[pos] = m.result;
    s.sym[nx] = -1;
    s.next[pos] = s.next[nx];
    if (s.next[nx] != kEnd) s.prev[s.next[nx]] = pos;
    if (s.prev[pos] != kEnd) push(s.prev[pos]);
    push(pos);
  }
  for (std::uint32_t i = 0; i != kEnd; i = s.next[i]) out.push_back(s.sym[i]);
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out, Scratch& scratch) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (merges_.empty()) {
    for (char c : word) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
    return;
  }
  if (word.size() > kMaxCachedWordBytes) {
    run_merges(word, out, scratch);
    return;
  }
  const std::uint64_t h = StringHash{}(word);
  CacheShard& shard = cache_[(h >> 56) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (cache_lookup(shard, h, word, out)) return;
  }
  const std::size_t start = out.size();
  run_merges(word, out, scratch);
  std::lock_guard<std::mutex> lock(shard.mutex);
  cache_store(shard, h, word, out.data() + start, out.size() - start);
}

}  // namespace hawkeye::text_detail
