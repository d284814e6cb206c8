// Device memory sub-allocation (engine/runtime/memory_pool.hpp): the free-space bookkeeping of one
// block against a simple model, the block-size rule, and on the device: a steady state that makes no
// vkAllocateMemory, mapped ranges at their exact offsets, a large request with memory of its own,
// live buffers that never share bytes, one spare block per memory type.
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
//   released ranges never returned to a block  SteadyStateMakesNoAllocation
//   every request given its own memory         SteadyState..., LargeRequest..., SpareBlock..., HostVisible...
//   the offset left out of the mapped address  HostVisibleRangesAtNonZeroOffsets, LiveBuffersNeverShareBytes
//   the dedicated threshold doubled            LargeRequestGetsItsOwnMemoryAndFreesIt
//   a range handed out again while live        HostVisibleRanges..., LiveBuffersNeverShareBytes
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
const std::shared_ptr<detail::DeviceBuffer>& buffer(const Tensor& t) { return detail::buffer_of(t); }

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

// After a warm-up, 1,000 cycles of tensors and staging buffers of varied sizes, a few alive at a time,
// allocate no device memory.
TEST(MemoryPool, SteadyStateMakesNoAllocation) {
    Context& ctx = context();
    const std::vector<int64_t> elements = {1, 3, 64, 1000, 4096, 250000, 17, 1 << 20, 333, 65536, 7, 100000};
    std::vector<Tensor> window(3);
    std::vector<std::shared_ptr<detail::DeviceBuffer>> staging(2);
    const auto cycle = [&](std::size_t i) {
        window[i % window.size()] = ctx.empty({elements[i % elements.size()]}, DType::f32);
        if (i % 4 == 0)
            staging[(i / 4) % staging.size()] = detail::create_buffer(
                state().shared_from_this(), static_cast<VkDeviceSize>(elements[(i / 4) % elements.size()]) * 4, MemoryKind::staging);
    };
    const uint64_t at_start = ctx.stats().memory_allocations;
    for (std::size_t i = 0; i < 100; ++i) cycle(i);
    const ContextStats before = ctx.stats();
    const detail::LiveObjects objects_before = detail::live_objects();
    for (std::size_t i = 100; i < 1100; ++i) cycle(i);
    const ContextStats after = ctx.stats();
    EXPECT_EQ(after.memory_allocations, before.memory_allocations) << "vkAllocateMemory calls in 1,000 steady-state cycles";
    EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), objects_before.count(ObjectKind::memory));
    const uint32_t type = buffer(window[0])->memory.memory_type();
    std::printf("memory pool: tensors in memory type %u: preferred block %llu MiB, dedicated above %llu MiB, %zu blocks held; "
                "vkAllocateMemory calls: %llu in the warm-up (100 cycles), %llu in the next 1,000\n",
                type, static_cast<unsigned long long>(state().memory_pool->preferred_block_size(type) / kMiB),
                static_cast<unsigned long long>(state().memory_pool->dedicated_threshold(type) / kMiB),
                state().memory_pool->block_count(type), static_cast<unsigned long long>(before.memory_allocations - at_start),
                static_cast<unsigned long long>(after.memory_allocations - before.memory_allocations));
    window.clear();
    staging.clear();
}

// Ranges of a block at non-zero offsets: written through their mappings, copied on the device, read
// back through other mappings. Staging memory is host visible on every device.
TEST(MemoryPool, HostVisibleRangesAtNonZeroOffsets) {
    detail::ContextState& st = state();
    std::vector<std::shared_ptr<detail::DeviceBuffer>> sources;
    for (VkDeviceSize bytes : {12, 1000, 4096, 70000, 3}) sources.push_back(detail::create_buffer(st.shared_from_this(), bytes, MemoryKind::staging));
    bool offset_seen = false;
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const auto& s = sources[i];
        ASSERT_NE(s->mapped, nullptr);
        offset_seen = offset_seen || s->memory.offset() != 0;
        auto* bytes = static_cast<uint8_t*>(s->mapped);
        for (VkDeviceSize j = 0; j < s->size; ++j) bytes[j] = static_cast<uint8_t>(i * 37 + j * 11 + 5);
        // Ranges of one block are the block's one mapping at their offsets.
        for (std::size_t k = 0; k < i; ++k)
            if (sources[k]->memory.memory() == s->memory.memory())
                EXPECT_EQ(static_cast<char*>(s->mapped) - static_cast<char*>(sources[k]->mapped),
                          static_cast<std::ptrdiff_t>(s->memory.offset()) - static_cast<std::ptrdiff_t>(sources[k]->memory.offset()));
    }
    EXPECT_TRUE(offset_seen) << "no staging buffer was placed at a non-zero offset: the test tests nothing";
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const auto& s = sources[i];
        auto on_device = detail::create_buffer(st.shared_from_this(), s->size, MemoryKind::device);
        auto back = detail::create_buffer(st.shared_from_this(), s->size, MemoryKind::staging);
        st.copy_buffer(s->buffer.get(), 0, on_device->buffer.get(), 0, s->size);
        st.copy_buffer(on_device->buffer.get(), 0, back->buffer.get(), 0, s->size);
        EXPECT_EQ(std::memcmp(back->mapped, s->mapped, s->size), 0) << "buffer " << i << " of " << s->size << " bytes at offset "
                                                                   << s->memory.offset() << ", read back at " << back->memory.offset();
    }
    // And tensors: uploaded, downloaded, none at offset 0 of its block needed but one not at 0 seen.
    Context& ctx = context();
    std::vector<Tensor> tensors;
    std::vector<std::vector<float>> values;
    for (int64_t n : {5, 300, 2048}) {
        std::vector<float> v(static_cast<std::size_t>(n));
        for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>(n) + 0.25f * static_cast<float>(j);
        tensors.push_back(ctx.upload(v, {n}));
        values.push_back(std::move(v));
    }
    bool tensor_offset_seen = false;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        tensor_offset_seen = tensor_offset_seen || buffer(tensors[i])->memory.offset() != 0;
        EXPECT_EQ(tensors[i].download<float>(), values[i]) << "tensor " << i << " at offset " << buffer(tensors[i])->memory.offset();
    }
    EXPECT_TRUE(tensor_offset_seen);
}

TEST(MemoryPool, LargeRequestGetsItsOwnMemoryAndFreesIt) {
    Context& ctx = context();
    detail::ContextState& st = state();
    const Tensor small = ctx.empty({4}, DType::f32);
    const uint32_t type = buffer(small)->memory.memory_type();
    const VkDeviceSize threshold = st.memory_pool->dedicated_threshold(type);
    const ContextStats before = ctx.stats();
    const int64_t memory_objects = detail::live_objects().count(ObjectKind::memory);
    const std::size_t dedicated = st.memory_pool->dedicated_count();
    {
        const int64_t n = static_cast<int64_t>(threshold / 4) + 1;
        Tensor large = ctx.empty({n}, DType::f32);
        EXPECT_TRUE(buffer(large)->memory.dedicated()) << threshold + 4 << " bytes, over the threshold " << threshold;
        EXPECT_EQ(buffer(large)->memory.offset(), 0u);
        EXPECT_EQ(ctx.stats().memory_allocations, before.memory_allocations + 1);
        EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), memory_objects + 1);
        EXPECT_EQ(st.memory_pool->dedicated_count(), dedicated + 1);
        EXPECT_FALSE(buffer(small)->memory.dedicated());
    }
    EXPECT_EQ(detail::live_objects().count(ObjectKind::memory), memory_objects) << "released with its tensor";
    EXPECT_EQ(st.memory_pool->dedicated_count(), dedicated);
}

// Many live tensors of varied sizes, each with its own pattern; half released and replaced (filling
// the holes); every tensor still reads back its own pattern, and no two share a byte of memory.
TEST(MemoryPool, LiveBuffersNeverShareBytes) {
    Context& ctx = context();
    std::mt19937 gen(99);
    std::vector<Tensor> tensors;
    std::vector<std::vector<int32_t>> patterns;
    const auto make = [&](std::size_t i) {
        const int64_t n = 1 + static_cast<int64_t>(gen() % (gen() % 4 == 0 ? 50000 : 700));
        std::vector<int32_t> v(static_cast<std::size_t>(n));
        for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<int32_t>(i * 1000003 + j);
        Tensor t = ctx.empty({n}, DType::i32);
        // Written after every earlier tensor exists: a range handed out twice would overwrite one.
        state().write_bytes(*buffer(t), 0, v.data(), v.size() * 4);
        return std::pair{std::move(t), std::move(v)};
    };
    for (std::size_t i = 0; i < 64; ++i) {
        auto [t, v] = make(i);
        tensors.push_back(std::move(t));
        patterns.push_back(std::move(v));
    }
    for (std::size_t i = 0; i < 64; i += 2) tensors[i] = Tensor();
    for (std::size_t i = 0; i < 64; i += 2) {
        auto [t, v] = make(100 + i);
        tensors[i] = std::move(t);
        patterns[i] = std::move(v);
    }
    for (std::size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(tensors[i].download<int32_t>(), patterns[i]) << "tensor " << i;
    for (std::size_t i = 0; i < tensors.size(); ++i)
        for (std::size_t k = 0; k < i; ++k) {
            const auto &a = buffer(tensors[i])->memory, &b = buffer(tensors[k])->memory;
            if (a.memory() != b.memory()) continue;
            EXPECT_TRUE(a.offset() + a.size() <= b.offset() || b.offset() + b.size() <= a.offset())
                << "tensors " << i << " and " << k << " share bytes: [" << a.offset() << ", +" << a.size() << ") and [" << b.offset()
                << ", +" << b.size() << ")";
        }
}

}  // namespace
}  // namespace vkattn::test
