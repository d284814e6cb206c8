#version 450
// The application's own producer pass (tests/consumer/embedding_example.cpp): writes one input tensor
// (Q, K or V) into the application's arena buffer from a hash of the element index. Every value is
// k / 512 with k an integer in [-512, 512]: exact in f32 and in f16, computed with integer arithmetic
// and one multiplication by a power of two, so the host computes bitwise the same inputs.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) writeonly buffer Arena { uint words[]; };
layout(push_constant) uniform Fill {
    uint word_offset;  // first 32-bit word of the tensor in the arena
    uint word_count;   // words to write: elements (f32) or element pairs (f16)
    uint seed;
    uint halves;       // 1: two f16 elements per word
} pc;

float value(uint e) {
    uint h = e * 2654435761u + pc.seed * 0x9E3779B9u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return float(int(h % 1025u) - 512) * (1.0 / 512.0);
}

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.word_count) return;
    words[pc.word_offset + i] = pc.halves != 0u ? packHalf2x16(vec2(value(2u * i), value(2u * i + 1u)))
                                               : floatBitsToUint(value(i));
}
