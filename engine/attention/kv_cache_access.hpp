#pragma once
// An append to a KvCache in its two halves, shared by KvCache::append (submitted and waited for) and
// record_append (recorded into the caller's command buffer): plan (checks, the new lengths and the copy
// regions) and record (the copies), then commit the lengths.
#include <vulkan/vulkan.h>

#include <span>
#include <vector>

#include "vkattn/kv_cache.hpp"

namespace vkattn {

struct KvCacheAccess {
    struct AppendPlan {
        std::vector<int32_t> next;             // lengths after the append
        std::vector<VkBufferCopy> keys, values;  // regions from k_new / v_new into the storage
        bool quantize = false;                   // a q8_0 / q4_0 cache: no copies, a quantising compute pass
    };
    /// Throws Error(unsupported) for a q8_0 / q4_0 cache, which only KvCache::append fills (`operation` names the caller).
    static void require_copyable(const KvCache& cache, const char* operation);
    /// Checks the new rows (Error(invalid_argument) naming the argument) and plans the copies.
    static AppendPlan plan_append(const KvCache& cache, const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts);
    /// Records the copies of `plan` into `cmd`.
    static void record_copies(VkCommandBuffer cmd, const KvCache& cache, const Tensor& k_new, const Tensor& v_new,
                              const AppendPlan& plan);
    /// attend()'s options: checked, then the cache's lengths with bottom-right causality.
    static AttentionOptions attend_options(Context& ctx, const Tensor& q, const KvCache& cache, AttentionOptions options);
    static void commit(KvCache& cache, AppendPlan& plan) { cache.lengths_ = std::move(plan.next); }
};

}  // namespace vkattn
