#pragma once
// Splitting a problem into chunks of (batch, head) slices and query rows so that every buffer range a
// dispatch binds fits maxStorageBufferRange (and 2 GiB, so int32 indices suffice) and every workgroup
// count fits maxComputeWorkGroupCount.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/context_state.hpp"

namespace vkattn::detail {

/// One tensor as a kernel sees it: 4-D (batch, head, row, column) strides in elements.
struct Operand {
    const DeviceBuffer* buffer = nullptr;
    const char* name = "";  // a literal: operands are copied on every call's planning path
    std::size_t elem_size = 4;
    int64_t offset = 0;
    std::array<int64_t, 4> strides{};
    int64_t head_div = 1;      // query head h reads head h / head_div (GQA for k and v)
    int64_t rows = 0;          // extent of dimension 2
    int64_t cols = 0;          // extent of dimension 3
    bool rows_chunked = true;  // false: every row is read by every query row (k, v)
    // The buffer holds only the current chunk (a working buffer reused chunk after chunk): local
    // slice (b - b0) * Hq + (h - h0) at strides[1] (strides[0] == Hq * strides[1]), row i - row0.
    bool chunk_local = false;
    // Block formats (q8_0 / q4_0 K/V): bytes per 32 elements (0: elem_size per element). Such an operand is
    // bound whole, from byte 0, with its element offset (the kernels find block e / 32 themselves).
    std::size_t block_bytes = 0;
};

/// A chunk: flattened slices [bh0, bh0 + slices) and query rows [row0, row0 + row_count).
struct Chunk {
    int64_t bh0 = 0, slices = 0, row0 = 0, row_count = 0;
};

/// A binding of one operand for one chunk, and the element offset of the chunk's first slice in it.
struct BoundOperand {
    BoundRange range;
    int32_t offset = 0;
};

struct ChunkLimits {
    uint64_t max_range = 0;       // bytes bindable at once
    uint64_t alignment = 4;       // minStorageBufferOffsetAlignment (and >= 4)
    int64_t max_slices = 0;       // workgroup count limit on the slice dimension
    int64_t max_rows = 0;         // limit on rows per chunk (a multiple of row_tile)
    int64_t row_tile = 1;         // rows per workgroup
};

ChunkLimits chunk_limits(const DeviceInfo& dev, int64_t row_tile, int64_t max_row_groups);

/// Binds `op` for `chunk` (Hq query heads), or returns false when the range is too large.
bool bind_operand(const Operand& op, const Chunk& chunk, int64_t Hq, const ChunkLimits& lim, BoundOperand& out);

/// Splits [0, B*Hq) x [0, Lq) into chunks for which every operand binds; `extra_bytes(chunk)`
/// adds per-chunk scratch that must also fit. Throws Error(unsupported) naming the operand that
/// cannot fit even one row tile.
std::vector<Chunk> plan_chunks(const std::vector<Operand>& ops, int64_t B, int64_t Hq, int64_t Lq, const ChunkLimits& lim,
                               int64_t scratch_bytes_per_row);

}  // namespace vkattn::detail
