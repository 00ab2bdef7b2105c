// TEMPORARY stand-in for lib/processing/index.ts while it is being written (deleted once it exists).
import { Tensor } from '../../../lib/tensor.js';
export function buildLabels(captions: string[], tokenizer: { encode(t: string): number[]; eos_token_id: number; pad_token_id: number },
  o: { max_length: number; appendEos: boolean; padLabel: -100 | 'eos' }): { labels: Tensor<'int64'>; lengths: number[] } {
  const seqs = captions.map((c) => {
    const ids = tokenizer.encode(c).slice(0, o.appendEos ? o.max_length - 1 : o.max_length);
    return o.appendEos ? [...ids, tokenizer.eos_token_id] : ids;
  });
  const T = Math.max(...seqs.map((s) => s.length));
  const pad = o.padLabel === 'eos' ? tokenizer.eos_token_id : -100;
  const rows = seqs.map((s) => [...s, ...Array(T - s.length).fill(pad)]);
  return { labels: Tensor.int64(rows), lengths: seqs.map((s) => s.length) };
}
