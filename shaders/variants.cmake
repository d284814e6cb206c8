# Every SPIR-V variant the library embeds. Defines are only for type axes (storage dtype);
# tile sizes, workgroup size and head-dim capacity are specialization constants chosen per device.
vkattn_shader(attention_fused_f32 attention/attention_fused.comp DEFINES IN_F16=0)
vkattn_shader(attention_fused_f16 attention/attention_fused.comp DEFINES IN_F16=1)
vkattn_shader(attention_fused_sg_f32 attention/attention_fused.comp DEFINES IN_F16=0 SUBGROUP_REDUCE=1)
vkattn_shader(attention_fused_sg_f16 attention/attention_fused.comp DEFINES IN_F16=1 SUBGROUP_REDUCE=1)
vkattn_shader(attention_fused_rowwise_f32 attention/attention_fused_rowwise.comp DEFINES IN_F16=0)
vkattn_shader(attention_fused_rowwise_f16 attention/attention_fused_rowwise.comp DEFINES IN_F16=1)
vkattn_shader(attention_decode_split_f32 attention/attention_decode_split.comp DEFINES IN_F16=0)
vkattn_shader(attention_decode_split_f16 attention/attention_decode_split.comp DEFINES IN_F16=1)
vkattn_shader(attention_decode_combine attention/attention_decode_combine.comp)
vkattn_shader(attention_decode_combine_f16out attention/attention_decode_combine.comp DEFINES O_BUFFER_AS_WORDS=1)
# The explicit path's second pass (the first is the fused kernel with its log-sum-exp): P = exp(s - lse).
vkattn_shader(attention_weights_f32 attention/attention_weights.comp DEFINES IN_F16=0)
vkattn_shader(attention_weights_f16 attention/attention_weights.comp DEFINES IN_F16=1)
vkattn_shader(attention_weights_rowwise_f32 attention/attention_weights_rowwise.comp DEFINES IN_F16=0)
vkattn_shader(attention_weights_rowwise_f16 attention/attention_weights_rowwise.comp DEFINES IN_F16=1)
vkattn_shader(convert_f32_to_f16 runtime/convert_f32_to_f16.comp)
# Roofline microbenchmarks (engine/tuning/roofline.cpp): FMA peak in f32 and f16 arithmetic, copy bandwidth.
vkattn_shader(roofline_fma_f32 roofline/roofline_fma.comp DEFINES FMA_F16=0)
vkattn_shader(roofline_fma_f16 roofline/roofline_fma.comp DEFINES FMA_F16=1)
vkattn_shader(roofline_copy roofline/roofline_copy.comp)
# Engine self-test (tests/subgroup_size_test.cpp): reports the subgroup size a pipeline runs with.
vkattn_shader(subgroup_size_probe runtime/subgroup_size_probe.comp)
# Linear attention (engine/layers/linear_attention.cpp): chunk states, their exclusive prefix, the per-row apply.
vkattn_shader(linear_state_f32 layers/linear_state.comp DEFINES IN_F16=0)
vkattn_shader(linear_state_f16 layers/linear_state.comp DEFINES IN_F16=1)
vkattn_shader(linear_prefix layers/linear_prefix.comp)
vkattn_shader(linear_apply_f32 layers/linear_apply.comp DEFINES IN_F16=0)
vkattn_shader(linear_apply_f16 layers/linear_apply.comp DEFINES IN_F16=1)
# Matrix multiply (engine/layers/matmul.cpp): f32 accumulation, f32 or f16 storage of A, W and the bias.
vkattn_shader(matmul_f32 layers/matmul.comp DEFINES IN_F16=0)
vkattn_shader(matmul_f16 layers/matmul.comp DEFINES IN_F16=1)
# Additive (Bahdanau) attention over projected rows (engine/layers/additive.cpp).
vkattn_shader(additive_attention_f32 layers/additive_attention.comp DEFINES IN_F16=0)
vkattn_shader(additive_attention_f16 layers/additive_attention.comp DEFINES IN_F16=1)
# KvCache::append into a q8_0 / q4_0 cache (engine/attention/kv_cache.cpp): new rows quantised on the device.
vkattn_shader(kv_quantize_f32 runtime/kv_quantize.comp DEFINES IN_F16=0)
vkattn_shader(kv_quantize_f16 runtime/kv_quantize.comp DEFINES IN_F16=1)
