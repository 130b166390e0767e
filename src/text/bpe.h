// Private: the byte-level BPE model. Tokens are raw byte strings (the ByteLevel alphabet is decoded at
// load time), merges are applied lowest rank first, leftmost first on ties, with a binary heap over
// a linked list of symbols: O(n log n) per word, never a quadratic rescan. Results of short words are
// cached (thread-safe, bounded).
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hawkeye::text_detail {

using TokenId = std::int32_t;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  struct Merge {
    TokenId left, right, result;
  };
  // Per-call working memory (one per encode call, reused across its words).
  struct Scratch {
    std::vector<TokenId> sym;
    std::vector<std::uint32_t> next, prev;
    std::vector<std::uint64_t> heap;
  };

  // vocab: raw bytes -> id; byte_ids[b]: the id of the one-byte token b (all 256 must exist);
  // merges in rank order (rank = index).
  BpeModel(TokenIndex vocab, const std::array<TokenId, 256>& byte_ids, std::vector<Merge> merges, bool ignore_merges);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word (raw bytes).
  void encode_word(std::string_view word, std::vector<TokenId>& out, Scratch& scratch) const;

  const TokenIndex& vocab() const { return vocab_; }
  std::size_t merge_count() const { return merges_.size(); }

  static constexpr std::size_t kMaxCachedWordBytes = 256;
  static constexpr std::size_t kCacheShards = 8;
  static constexpr std::size_t kCacheEntriesPerShard = 4096;

 private:
  static constexpr std::uint32_t kNoRank = 0xFFFFFFFFu;
  std::uint32_t rank_of(TokenId a, TokenId b) const;
  void run_merges(std::string_view word, std::vector<TokenId>& out, Scratch& s) const;

  TokenIndex vocab_;
  std::array<TokenId, 256> byte_ids_{};
  std::vector<Merge> merges_;
  bool ignore_merges_ = false;
  // Open-addressing table (linear probing) of merges: key (left << 32 | right) -> rank, in one slot so
  // a lookup touches one cache line.
  struct MergeSlot {
    std::uint64_t key;
    std::uint32_t rank;
  };
  std::vector<MergeSlot> table_;
  std::uint64_t table_mask_ = 0;

  // Word cache: per shard, an open-addressing table over two arenas (word bytes, ids); when half full
  // it starts over, which bounds memory without bookkeeping.
  struct CacheShard {
    struct Slot {
      std::uint64_t hash = 0;
      std::uint32_t key_offset = 0, ids_offset = 0;
      std::uint16_t key_length = 0, ids_length = 0;  // key_length 0: empty slot
    };
    std::mutex mutex;
    std::vector<Slot> slots;
    std::string keys;
    std::vector<TokenId> ids;
    std::size_t used = 0;
  };
  static constexpr std::size_t kCacheSlotsPerShard = 2 * kCacheEntriesPerShard;
  bool cache_lookup(CacheShard& shard, std::uint64_t hash, std::string_view word, std::vector<TokenId>& out) const;
  void cache_store(CacheShard& shard, std::uint64_t hash, std::string_view word, const TokenId* ids,
                   std::size_t n) const;
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace hawkeye::text_detail
