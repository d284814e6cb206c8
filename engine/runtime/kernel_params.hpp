#pragma once
// C++ mirror of the `Params` uniform block in shaders/common/common.glsl (std140: sixteen 16-byte rows).
#include <array>
#include <cstdint>

namespace vkattn::detail {

struct alignas(16) KernelParams {
    std::array<int32_t, 4> dims0{};     // B, Hq, Hkv, Lq
    std::array<int32_t, 4> dims1{};     // Lk, D, Dv, group
    std::array<int32_t, 4> q_stride{};  // batch, head, row, dim
    std::array<int32_t, 4> k_stride{};
    std::array<int32_t, 4> v_stride{};
    std::array<int32_t, 4> o_stride{};
    std::array<int32_t, 4> m_stride{};
    std::array<int32_t, 4> offsets0{};  // q, k, v, o
    std::array<int32_t, 4> offsets1{};  // mask, lse, p (may be negative in row chunks), w: a kernel's own (rowwise work list, split-KV first key, additive v_a)
    std::array<int32_t, 4> chunk{};     // first bh, its b, its h, first row tile
    std::array<int32_t, 4> flags{};     // causal, mask kind, bits (1 key lengths, 2 lse), element count
    std::array<float, 4> scalars{};     // scale * log2(e), log2(e), scale
    std::array<int32_t, 4> ext{-1, -1, -1, 0};  // window left, window right (-1: none), ALiBi slopes offset in binding 6 (-1: none), first key block (decode)
    std::array<float, 4> ext_f{};       // softcap (0: off); linear attention: its eps
    std::array<int32_t, 4> ext2{-1, 0, 0, 0};  // attention sinks' word offset in binding 6 (-1: none)
    // Packed sequences / paged keys (shaders/common/sequence_rows.glsl): sequence table's word offset in
    // binding 6 (-1: none), block table's (-1: not paged), log2(page size), pages per block-table row.
    std::array<int32_t, 4> seq{-1, -1, 0, 0};
};
static_assert(sizeof(KernelParams) == 256, "KernelParams must match the std140 Params block");

/// Binding slots shared by every kernel (shaders/common/common.glsl).
enum Binding : uint32_t {
    kParams = 0, kQ = 1, kK = 2, kV = 3, kOut = 4, kMask = 5, kKeyLengths = 6, kLse = 7, kP = 8,
    kAux = 9,  // a kernel's own extra operand (additive attention's v_a)
    kBindingCount = 10
};

}  // namespace vkattn::detail
