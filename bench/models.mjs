// Model sizes of the README's performance table (tiny: test-sized; small: ViT-Tiny/16 + a 6-layer GPT-2;
// base: ViT-Small/16 + a 6-layer GPT-2 of full width; full: ViT-base/16 + GPT-2 124M, the size of
// nlpconnect/vit-gpt2-image-captioning).
import { composeConfig } from '../dist/lib/models/config.js';

export function benchConfig(size) {
  const sizes = {
    tiny: { enc: { image_size: 32, patch_size: 8, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128 }, dec: { n_embd: 32, n_layer: 2, n_head: 4 } },
    small: { enc: { image_size: 224, patch_size: 16, hidden_size: 192, num_hidden_layers: 12, num_attention_heads: 3, intermediate_size: 768 }, dec: { n_embd: 384, n_layer: 6, n_head: 6 } },
    base: { enc: { image_size: 224, patch_size: 16, hidden_size: 384, num_hidden_layers: 12, num_attention_heads: 6, intermediate_size: 1536 }, dec: { n_embd: 768, n_layer: 6, n_head: 12 } },
    full: { enc: { image_size: 224, patch_size: 16, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }, dec: { n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024 } },
  }[size];
  // HF defaults: GPT-2 dropout 0.1, ViT dropout 0
  return composeConfig({ model_type: 'vit', ...sizes.enc }, { model_type: 'gpt2', vocab_size: 50257, n_positions: 64, ...sizes.dec, bos_token_id: 50256, eos_token_id: 50256, pad_token_id: 50256 });
}

export function randomPixels(Tensor, batch, size) {
  const n = batch * 3 * size * size;
  return Tensor.from(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.618)), [batch, 3, size, size]);
}
