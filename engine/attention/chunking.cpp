#include "attention/chunking.hpp"

#include <algorithm>

#include "vkattn/error.hpp"

namespace vkattn::detail {

ChunkLimits chunk_limits(const DeviceInfo& dev, int64_t row_tile, int64_t max_row_groups) {
    ChunkLimits lim;
    lim.max_range = std::min<uint64_t>(dev.max_storage_buffer_range, (uint64_t{1} << 31) - 4);
    if (const char* env = std::getenv("VKATTN_TEST_MAX_BINDING")) {
        // Test hook: pretend the device binds less, so that chunking is exercised on small problems.
        lim.max_range = std::min<uint64_t>(lim.max_range, std::max<uint64_t>(256, std::strtoull(env, nullptr, 10)));
    }
    lim.alignment = std::max<uint64_t>(dev.min_storage_offset_alignment, 4);
    lim.max_slices = std::min(dev.max_workgroup_count[1], dev.max_workgroup_count[2]);
    lim.row_tile = row_tile;
    lim.max_rows = std::max<int64_t>(row_tile, max_row_groups * row_tile);
    return lim;
}

bool bind_operand(const Operand& op, const Chunk& c, int64_t Hq, const ChunkLimits& lim, BoundOperand& out) {
    if (!op.buffer) return true;
    if (op.chunk_local) {
        // The working buffer (or a workspace's view of it) from its first element, as far as one binding reaches.
        const uint64_t es = op.elem_size;
        const uint64_t begin = static_cast<uint64_t>(op.offset) * es / lim.alignment * lim.alignment;
        // (Its size was checked against one binding when it was made: attention.cpp.)
        out.range = {op.buffer->buffer.get(), begin, std::min<uint64_t>(op.buffer->size - begin, lim.max_range)};
        // The kernels index rows globally (i) and slices from the chunk's first: shift by row0.
        out.offset = static_cast<int32_t>(op.offset - static_cast<int64_t>(begin / es) - (op.rows_chunked ? c.row0 * op.strides[2] : 0));
        return true;
    }
    if (op.block_bytes > 0) {
        const int64_t b0 = c.bh0 / Hq, h0 = (c.bh0 % Hq) / op.head_div;
        if (op.buffer->size > lim.max_range) return false;
        out.range = {op.buffer->buffer.get(), 0, op.buffer->size};
        out.offset = static_cast<int32_t>(op.offset + b0 * op.strides[0] + h0 * op.strides[1]);
        return true;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t bh = c.bh0; bh < c.bh0 + c.slices; ++bh) {
        const int64_t b = bh / Hq, h = (bh % Hq) / op.head_div;
        const int64_t base = b * op.strides[0] + h * op.strides[1];
        lo = std::min(lo, base);
        hi = std::max(hi, base);
    }
    const int64_t r0 = op.rows_chunked ? c.row0 : 0;
    const int64_t r1 = op.rows_chunked ? c.row0 + c.row_count : op.rows;
    lo += op.offset + r0 * op.strides[2];
    hi += op.offset + (r1 - 1) * op.strides[2] + (op.cols - 1) * op.strides[3];

    const uint64_t es = op.elem_size;
    const uint64_t begin = static_cast<uint64_t>(lo) * es / lim.alignment * lim.alignment;
    const uint64_t end = std::min<uint64_t>((static_cast<uint64_t>(hi + 1) * es + 3) / 4 * 4, op.buffer->size);
    if (end - begin > lim.max_range) return false;
    const int64_t b0 = c.bh0 / Hq, h0 = (c.bh0 % Hq) / op.head_div;
    const int64_t first = op.offset + b0 * op.strides[0] + h0 * op.strides[1];
    out.range = {op.buffer->buffer.get(), begin, end - begin};
    out.offset = static_cast<int32_t>(first - static_cast<int64_t>(begin / es));
    return true;
}

namespace {

bool chunk_fits(const std::vector<Operand>& ops, const Chunk& c, int64_t Hq, const ChunkLimits& lim,
                int64_t scratch_bytes_per_row, std::string* culprit) {
    if (static_cast<uint64_t>(scratch_bytes_per_row) * c.slices * c.row_count > lim.max_range) {
        if (culprit) *culprit = "the attention matrix of one row tile";
        return false;
    }
    BoundOperand unused;
    for (const Operand& op : ops)
        if (!bind_operand(op, c, Hq, lim, unused)) {
            if (culprit) *culprit = op.name;
            return false;
        }
    return true;
}

}  // namespace

std::vector<Chunk> plan_chunks(const std::vector<Operand>& ops, int64_t B, int64_t Hq, int64_t Lq, const ChunkLimits& lim,
                               int64_t scratch_bytes_per_row) {
    std::vector<Chunk> chunks;
    const int64_t total = B * Hq;
    int64_t bh = 0;
    while (bh < total) {
        Chunk c{bh, std::min(total - bh, lim.max_slices), 0, Lq};
        if (Lq > lim.max_rows) c.slices = 1;
        // Halve the slice count until it fits; past one slice, split the rows.
        while (c.slices > 1 && !chunk_fits(ops, {c.bh0, c.slices, 0, std::min(Lq, lim.max_rows)}, Hq, lim, scratch_bytes_per_row, nullptr))
            c.slices = (c.slices + 1) / 2;
        int64_t rows = std::min(Lq, lim.max_rows);
        std::string culprit;
        while (!chunk_fits(ops, {c.bh0, c.slices, 0, rows}, Hq, lim, scratch_bytes_per_row, &culprit)) {
            if (rows <= lim.row_tile)
                throw Error(ErrorCode::unsupported, culprit + ": one (batch, head) slice needs more than the " +
                                                        std::to_string(lim.max_range) +
                                                        " bytes the device can bind at once (maxStorageBufferRange)");
            rows = std::max(lim.row_tile, (rows / 2 + lim.row_tile - 1) / lim.row_tile * lim.row_tile);
        }
        for (int64_t r = 0; r < Lq; r += rows) {
            Chunk rc{c.bh0, c.slices, r, std::min(rows, Lq - r)};
            std::string why;
            if (!chunk_fits(ops, rc, Hq, lim, scratch_bytes_per_row, &why))
                throw Error(ErrorCode::unsupported, why + ": does not fit one binding even after splitting");
            chunks.push_back(rc);
        }
        bh += c.slices;
    }
    return chunks;
}

}  // namespace vkattn::detail
