/** The architectures by config.json model_type (each module: defaults, checks, native config, checkpoint keys). */
import { UnsupportedConfigError } from '../../errors.js';
import { beit } from './beit.js';
import { bert, roberta } from './bert.js';
import { clipVision } from './clip.js';
import type { DecoderArchitecture, EncoderArchitecture, RawConfig } from './common.js';
import { gpt2 } from './gpt2.js';
import { swin } from './swin.js';
import { deit, vit } from './vit.js';

export type { DecoderArchitecture, EncoderArchitecture, RawConfig } from './common.js';
export type { ViTConfig } from './vit.js';
export type { SwinConfig } from './swin.js';
export type { GPT2Config } from './gpt2.js';
export type { BertConfig } from './bert.js';
export type { BeitConfig } from './beit.js';
export type { CLIPVisionConfig } from './clip.js';

const ENCODERS: readonly EncoderArchitecture<never>[] = [vit, deit, beit, swin, clipVision] as never;
const DECODERS: readonly DecoderArchitecture<never>[] = [gpt2, bert, roberta] as never;

function find<A extends { modelTypes: readonly string[] }>(list: readonly A[], type: unknown, part: string): A {
  const arch = list.find((a) => a.modelTypes.includes(type as string));
  if (!arch) {
    const known = list.flatMap((a) => a.modelTypes).join(', ');
    throw new UnsupportedConfigError(`${part}.model_type = ${JSON.stringify(type)} is not supported (supported: ${known})`);
  }
  return arch;
}

/** The encoder architecture of a (raw or normalized) encoder config. */
export function encoderArchitecture(c: RawConfig): EncoderArchitecture<RawConfig> {
  return find(ENCODERS, c.model_type, 'encoder') as unknown as EncoderArchitecture<RawConfig>;
}

export function decoderArchitecture(c: RawConfig): DecoderArchitecture<RawConfig> {
  return find(DECODERS, c.model_type, 'decoder') as unknown as DecoderArchitecture<RawConfig>;
}
