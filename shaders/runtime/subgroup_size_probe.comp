#version 450
// Engine self-test, not an attention kernel: every invocation writes the subgroup size its pipeline
// runs with, so that tests can check a required subgroup size (ContextOptions::subgroup_size) took
// effect. The only shader that uses subgroup operations: the pipeline guard refuses it under limits
// profiles that turn them off.
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 0) in;  // specialization constant 0: workgroup size

layout(std430, set = 0, binding = 4) buffer OBuf { uint o_words[]; };

void main() {
    o_words[gl_GlobalInvocationID.x] = gl_SubgroupSize;
}
