/**
 * GitForCausalLM: Microsoft's GIT captioner (microsoft/git-base and its fine-tunes), as transformers' class of
 * that name. One transformer over [image tokens; text tokens]; text starts with [CLS] and ends with [SEP].
 */
import type { LoadOptions, ModelFamily } from './captioning-model.js';
import { buildFromConfig, CaptioningModel, loadPretrained, promptTextIds, type Device, type PromptTokenizer } from './captioning-model.js';
import { gitNativeText, gitNativeVision, gitTokens, normalizeGitConfig, type GitConfig } from './architectures/git.js';
import type { NativeModelHandle } from '../native.js';
import type { GenerateOptions } from './generation.js';

export type { GitConfig, GitVisionConfig } from './architectures/git.js';

const FAMILY: ModelFamily<GitConfig> = {
  name: 'GitForCausalLM',
  normalize: normalizeGitConfig,
  native: (c) => ({ model_type: 'git', vision: gitNativeVision(c.vision_config), text: gitNativeText(c), ...gitTokens(c) }),
  tokens: gitTokens,
  setTokens(c, ids) {
    c.decoder_start_token_id = ids.decoder_start_token_id;
    if (ids.pad_token_id !== null) c.pad_token_id = ids.pad_token_id;
    if (ids.eos_token_id !== null) c.eos_token_id = ids.eos_token_id;
  },
  generation: (c) => ({ vocabSize: c.vocab_size, maxLength: c.max_position_embeddings, positionsField: 'max_position_embeddings', bos_token_id: c.bos_token_id }),
  labelSmoothing: () => 0,
};

export class GitForCausalLM extends CaptioningModel<GitConfig> {
  private constructor(config: GitConfig, handle: NativeModelHandle, generationConfig: Partial<GenerateOptions>) {
    super(FAMILY, config, handle, generationConfig);
  }

  /** A GIT model with Hugging Face style random initialisation (deterministic for a seed). */
  static async fromConfig(config: unknown, opts: { seed?: number; device?: Device } = {}): Promise<GitForCausalLM> {
    const m = await buildFromConfig(FAMILY, config, opts);
    return new GitForCausalLM(m.config, m.handle, m.generation);
  }

  /** Load a Hugging Face GIT folder (config.json with model_type "git" + weights) or hub id. */
  static async fromPretrained(ref: string, opts: LoadOptions = {}): Promise<GitForCausalLM> {
    const m = await loadPretrained(FAMILY, ref, opts);
    return new GitForCausalLM(m.config, m.handle, m.generation);
  }

  /** A text prompt as GIT continues it: [CLS] + the prompt's WordPiece ids (no [SEP]), as transformers' pipeline builds it. */
  override promptInputIds(tokenizer: PromptTokenizer, prompt: string): number[] {
    const cls = tokenizer.cls_token_id ?? this.specialTokenIds.decoder_start_token_id ?? this.config.bos_token_id;
    return [cls, ...promptTextIds(tokenizer, prompt)];
  }

  /** The number of image tokens in front of the text (logits of forward() start with their positions). */
  get numImageTokens(): number {
    const v = this.config.vision_config;
    return (v.image_size / v.patch_size) ** 2 + 1;
  }
}
