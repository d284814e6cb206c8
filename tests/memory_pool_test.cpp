// Device memory sub-allocation (engine/runtime/memory_pool.hpp): the free-space bookkeeping of one
// block against a simple model, the block-size rule, and a pool of its own on the suite's device
// that keeps one spare block per memory type.
//
// Each test was seen to fail with a bug planted for it (then removed), memory_pool.cpp rebuilt into
// this file's tests alone:
//   allocate not aligning                      AlignmentIsHonoured, FragmentedSpace..., Randomised...
//   release not merging with the next range    Coalescing, Misuse..., Randomised...
//   first fit instead of best fit              BestFitTakesTheShortestRangeThatHolds
//   the scan stopping at the first free range  AlignmentIsHonoured, BestFit..., Randomised... (completeness)
//   the double-free check removed              Misuse... (the process aborts)
//   the [16 MiB, 256 MiB] clamp left out       BlockSizeRule
//   every empty block freed (no spare)         SpareBlockIsKeptAndGrowthIsBounded
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "runtime/memory_pool.hpp"
#include "test_support.hpp"
#include "testing/object_counters.hpp"

namespace vkattn::test {
namespace {

using detail::BlockSpace;
using detail::MemoryKind;
using detail::ObjectKind;

constexpr uint64_t kMiB = uint64_t{1} << 20;

bool is_internal_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.message().find("internal") != std::string::npos;
    }
    return false;
}

TEST(BlockSpace, AlignmentIsHonoured) {
    BlockSpace space(1 << 16);
    EXPECT_EQ(space.allocate(3, 1), 0u);
    EXPECT_EQ(space.allocate(8, 256), 256u);  // the gap [3, 256) stays free
    const auto in_gap = space.allocate(16, 64);
    ASSERT_TRUE(in_gap);
    EXPECT_EQ(*in_gap, 64u) << "best fit: the gap before 256 is the shortest range that holds it";
    std::mt19937 gen(7);
    for (int i = 0; i < 200; ++i) {
        const uint64_t alignment = uint64_t{1} << (gen() % 10);
        const auto offset = space.allocate(1 + gen() % 100, alignment);
        ASSERT_TRUE(offset);
        EXPECT_EQ(*offset % alignment, 0u) << "alignment " << alignment;
    }
}

TEST(BlockSpace, Coalescing) {
    BlockSpace space(1000);
    const auto a = space.allocate(100, 1), b = space.allocate(100, 1), c = space.allocate(100, 1);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(*a, 0u);
    EXPECT_EQ(*b, 100u);
    EXPECT_EQ(*c, 200u);
    EXPECT_EQ(space.free_range_count(), 1u);
    space.release(*b, 100);  // the middle: a hole of its own
    EXPECT_EQ(space.free_range_count(), 2u);
    EXPECT_EQ(space.largest_free_range(), 700u);
    EXPECT_EQ(space.allocate(100, 1), 100u) << "best fit: the hole, not the tail";
    space.release(100, 100);
    space.release(*a, 100);  // merges with the hole after it
    EXPECT_EQ(space.free_range_count(), 2u);
    EXPECT_EQ(space.allocate(200, 1), 0u) << "the merged range [0, 200) holds 200 bytes";
    space.release(0, 200);
    EXPECT_FALSE(space.empty());
    space.release(*c, 100);  // merges with both neighbours
    EXPECT_TRUE(space.empty());
    EXPECT_EQ(space.free_range_count(), 1u);
    EXPECT_EQ(space.largest_free_range(), 1000u);
    EXPECT_EQ(space.free_bytes(), 1000u);
}

// Best fit, not first fit: of two holes the shorter one that holds the request, so the longer one
// stays whole for a larger request.
TEST(BlockSpace, BestFitTakesTheShortestRangeThatHolds) {
    BlockSpace space(1000);
    for (const uint64_t bytes : {100, 300, 50, 100, 50}) ASSERT_TRUE(space.allocate(bytes, 1));  // [0,100) [100,400) [400,450) [450,550) [550,600)
    space.release(100, 300);
    space.release(450, 100);
    EXPECT_EQ(space.allocate(100, 1), 450u) << "the hole of 100, not the first hole (300) nor the tail (400)";
    EXPECT_EQ(space.allocate(300, 1), 100u);
    EXPECT_EQ(space.allocate(350, 1), 600u);
}

TEST(BlockSpace, FragmentedSpaceAndExhaustionReturnNothing) {
    BlockSpace space(300);
    EXPECT_EQ(space.allocate(300, 1), 0u);
    EXPECT_FALSE(space.allocate(1, 1));
    space.release(0, 300);
    for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(space.allocate(100, 1), i * 100);
    space.release(0, 100);
    space.release(200, 100);
    EXPECT_EQ(space.free_bytes(), 200u);
    EXPECT_FALSE(space.allocate(150, 1)) << "200 bytes free, but in two ranges of 100";
    EXPECT_EQ(space.allocate(100, 1), 0u);
    EXPECT_EQ(space.allocate(100, 1), 200u);
    BlockSpace aligned(256);
    EXPECT_EQ(aligned.allocate(1, 1), 0u);
    EXPECT_FALSE(aligned.allocate(200, 128)) << "the next 128-aligned offset leaves 128 bytes";
    EXPECT_EQ(aligned.allocate(128, 128), 128u);
}

TEST(BlockSpace, MisuseIsAnInternalErrorAndChangesNothing) {
    BlockSpace space(4096);
    const auto a = space.allocate(64, 16);
    ASSERT_TRUE(a);
    EXPECT_TRUE(is_internal_error([&] { space.release(*a + 16, 16); })) << "a range inside an allocation";
    EXPECT_TRUE(is_internal_error([&] { space.release(*a, 32); })) << "the right offset, another size";
    EXPECT_TRUE(is_internal_error([&] { space.release(8192, 64); })) << "outside the block";
    space.release(*a, 64);
    EXPECT_TRUE(is_internal_error([&] { space.release(*a, 64); })) << "a double free";
    EXPECT_TRUE(space.empty());
    EXPECT_EQ(space.free_bytes(), 4096u);
    EXPECT_EQ(space.free_range_count(), 1u);
    EXPECT_TRUE(is_internal_error([&] { space.allocate(0, 1); }));
    EXPECT_TRUE(is_internal_error([&] { space.allocate(16, 24); }));
    EXPECT_TRUE(is_internal_error([] { BlockSpace none(0); }));
}

// Random allocations and releases against a model (the live ranges): every range aligned, inside the
// block and clear of every other; the free bytes are the block less the live bytes; and nullopt only
// when no gap between live ranges could hold the request (best fit misses nothing).
TEST(BlockSpace, RandomisedRunMatchesAModel) {
    const uint64_t size = 1 << 20;
    BlockSpace space(size);
    std::map<uint64_t, uint64_t> live;  // offset -> size
    uint64_t live_bytes = 0;
    std::mt19937_64 gen(20240611);
    const auto fits_somewhere = [&](uint64_t bytes, uint64_t alignment) {
        uint64_t start = 0;
        const auto fits = [&](uint64_t end) {
            const uint64_t aligned = (start + alignment - 1) / alignment * alignment;
            return aligned < end && end - aligned >= bytes;
        };
        for (const auto& [offset, length] : live) {
            if (fits(offset)) return true;
            start = offset + length;
        }
        return fits(size);
    };
    int refused = 0;
    for (int step = 0; step < 20000; ++step) {
        if (!live.empty() && gen() % 100 < 45) {
            auto it = live.begin();
            std::advance(it, static_cast<long>(gen() % live.size()));
            space.release(it->first, it->second);
            live_bytes -= it->second;
            live.erase(it);
        } else {
            const uint64_t bytes = 1 + gen() % (gen() % 8 == 0 ? 65536 : 4096);
            const uint64_t alignment = uint64_t{1} << (gen() % 13);
            const auto offset = space.allocate(bytes, alignment);
            if (!offset) {
                ++refused;
                ASSERT_FALSE(fits_somewhere(bytes, alignment)) << "step " << step << ": " << bytes << " bytes aligned to " << alignment
                                                               << " fit a gap but were refused";
                continue;
            }
            ASSERT_EQ(*offset % alignment, 0u) << "step " << step;
            ASSERT_LE(*offset + bytes, size) << "step " << step;
            const auto next = live.lower_bound(*offset);
            ASSERT_TRUE(next == live.end() || *offset + bytes <= next->first) << "step " << step << ": overlaps the next range";
            ASSERT_TRUE(next == live.begin() || std::prev(next)->first + std::prev(next)->second <= *offset)
                << "step " << step << ": overlaps the previous range";
            live.emplace(*offset, bytes);
            live_bytes += bytes;
        }
        ASSERT_EQ(space.free_bytes(), size - live_bytes) << "step " << step;
        ASSERT_EQ(space.allocation_count(), live.size()) << "step " << step;
    }
    EXPECT_GT(refused, 0) << "the run never filled the block: it tests too little";
    for (const auto& [offset, length] : live) space.release(offset, length);
    EXPECT_TRUE(space.empty());
    EXPECT_EQ(space.free_range_count(), 1u);
    EXPECT_EQ(space.largest_free_range(), size);
}

TEST(BlockSpace, BlockSizeRule) {
    using detail::preferred_block_size;
    constexpr uint64_t GiB = uint64_t{1} << 30;
    EXPECT_EQ(preferred_block_size(24 * GiB, 4 * GiB), 256 * kMiB);  // a large GPU or system memory: the cap
    EXPECT_EQ(preferred_block_size(8 * GiB, 4 * GiB), 256 * kMiB);
    EXPECT_EQ(preferred_block_size(3 * GiB, 4 * GiB), 128 * kMiB);   // a sixteenth, rounded down to a power of two
    EXPECT_EQ(preferred_block_size(512 * kMiB, 4 * GiB), 32 * kMiB);
    EXPECT_EQ(preferred_block_size(256 * kMiB, 4 * GiB), 16 * kMiB);  // a BAR heap: the floor
    EXPECT_EQ(preferred_block_size(64 * kMiB, 4 * GiB), 8 * kMiB);    // small heaps: an eighth at most
    EXPECT_EQ(preferred_block_size(24 * GiB, 100 * kMiB), 64 * kMiB); // maxMemoryAllocationSize bounds it
    EXPECT_EQ(preferred_block_size(0, 0), 64u << 10);
}

// ---------------------------------------------------------------------------------------------
// On the device (the suite's context).

detail::ContextState& state() { return detail::state_of(context()); }

// A pool of its own on the suite's device: its blocks can be counted without the context's tensors.
TEST(MemoryPool, SpareBlockIsKeptAndGrowthIsBounded) {
    detail::ContextState& st = state();
    const int64_t memory_objects = detail::live_objects().count(ObjectKind::memory);
    std::atomic<uint64_t> allocations{0};
    {
        detail::MemoryPool pool(st.device.get(), st.physical, st.memory_properties, allocations);
        const uint32_t type = st.memory_type(~0u, MemoryKind::staging);
        VkMemoryRequirements req{};
        req.memoryTypeBits = 1u << type;
        req.alignment = 256;
        const uint64_t preferred = pool.preferred_block_size(type);
        req.size = preferred / 8;  // fills the first block (an eighth of the preferred size)
        detail::PoolAllocation first, second;
        ASSERT_EQ(pool.allocate(req, type, first), VK_SUCCESS);
        EXPECT_EQ(first.offset(), 0u);
        EXPECT_EQ(allocations.load(), 1u);
        ASSERT_EQ(pool.allocate(req, type, second), VK_SUCCESS);
        EXPECT_NE(first.memory(), second.memory());
        EXPECT_EQ(allocations.load(), 2u) << "a second block, of a quarter of the preferred size";
        EXPECT_EQ(pool.block_count(type), 2u);
        EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), memory_objects + 2);
        const VkDeviceMemory larger = second.memory();
        second.reset();
        EXPECT_EQ(pool.block_count(type), 2u) << "the first empty block stays as the spare";
        first.reset();
        EXPECT_EQ(pool.block_count(type), 1u) << "a second empty block goes (the smaller one)";
        for (int i = 0; i < 100; ++i) {
            detail::PoolAllocation again;
            ASSERT_EQ(pool.allocate(req, type, again), VK_SUCCESS);
            EXPECT_EQ(again.memory(), larger) << "the spare is reused";
        }
        EXPECT_EQ(allocations.load(), 2u) << "allocating and freeing around a block boundary allocates nothing";
        EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), memory_objects + 1);
    }
    EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), memory_objects) << "the pool frees its blocks when destroyed";
}

}  // namespace
}  // namespace vkattn::test
