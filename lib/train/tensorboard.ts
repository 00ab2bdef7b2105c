/**
 * TensorBoard event files written without TensorFlow: the TFRecord framing (uint64 length, masked CRC-32C
 * of the length, data, masked CRC-32C of the data) around hand-encoded tensorflow.Event protobufs
 * (wall_time = 1, step = 2, file_version = 3, summary = 5; Summary.value = 1 {tag = 1, simple_value = 2}).
 * The first event carries file_version "brain.Event:2", as TensorFlow's writers do.
 *
 * Text summaries (add_text) are what torch.utils.tensorboard writes: Summary.Value {tag = 1 ("<tag>/text_summary"),
 * tensor = 8 (TensorProto {dtype = 1: DT_STRING (7), tensor_shape = 2 {dim = 2 {size = 1}}, string_val = 8}),
 * metadata = 9 (SummaryMetadata {plugin_data = 1 {plugin_name = 1: "text", content = 2: TextPluginData, empty}})}.
 *
 * SummaryWriter is torch.utils.tensorboard's name and method names (add_scalar, add_scalars, add_text, flush,
 * close) over the same writer.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { expected, FormatError } from '../errors.js';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ----------------------------------------------------------------------------------------- protobuf encoding

class ProtoWriter {
  private readonly parts: number[] = [];

  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  double(field: number, v: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(...b);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.parts.push(...b);
    return this;
  }

  int64(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.parts.push(...data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A Summary.Value that encodeEvent writes: a scalar (simple_value) or a text (a DT_STRING tensor of the text plugin). */
export type EventValue = { tag: string; simple_value: number } | { tag: string; text: string };

const DT_STRING = 7;

/** Summary.Value of a text, as torch.utils.tensorboard.summary.text() builds it. */
function encodeTextValue(tag: string, text: string): Uint8Array {
  const shape = new ProtoWriter().bytes(2, new ProtoWriter().int64(1, 1).finish()).finish();
  const tensor = new ProtoWriter().int64(1, DT_STRING).bytes(2, shape).string(8, text).finish();
  const metadata = new ProtoWriter().bytes(1, new ProtoWriter().string(1, 'text').finish()).finish();
  return new ProtoWriter().string(1, tag).bytes(8, tensor).bytes(9, metadata).finish();
}

/** A serialized tensorflow.Event. */
export function encodeEvent(e: { wall_time: number; step: number; file_version?: string; values?: EventValue[] }): Uint8Array {
  const w = new ProtoWriter().double(1, e.wall_time).int64(2, e.step);
  if (e.file_version !== undefined) w.string(3, e.file_version);
  if (e.values && e.values.length) {
    const summary = new ProtoWriter();
    for (const v of e.values) {
      summary.bytes(1, 'text' in v ? encodeTextValue(v.tag, v.text) : new ProtoWriter().string(1, v.tag).float(2, v.simple_value).finish());
    }
    w.bytes(5, summary.finish());
  }
  return w.finish();
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function encodeRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/**
 * Writes scalars to an events.out.tfevents.* file that TensorBoard reads. Each add_scalars call appends one
 * record and flushes it, so a crash loses nothing already logged.
 */
export class TensorBoardWriter {
  /** The event file. */
  readonly path: string;
  /** The folder the event file is in (torch's log_dir). */
  readonly logDir: string;
  #fd: number | null;
  /** add_scalars' writers, one per folder. */
  readonly #children = new Map<string, TensorBoardWriter>();

  constructor(logDir: string) {
    if (typeof logDir !== 'string' || logDir.length === 0) expected('a folder path', 'TensorBoardWriter log_dir', logDir);
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });
    const now = Date.now() / 1000;
    this.path = join(logDir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}.0`);
    this.#fd = openSync(this.path, 'a');
    this.#write(encodeEvent({ wall_time: now, step: 0, file_version: 'brain.Event:2' }));
  }

  #write(event: Uint8Array): void {
    if (this.#fd === null) return;
    writeSync(this.#fd, encodeRecord(event));
  }

  /** Scalars of one step (one Event holding a Summary with a value per tag). */
  addScalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): void {
    const list = Object.entries(values).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)).map(([tag, simple_value]) => ({ tag, simple_value }));
    if (list.length === 0) return;
    this.#write(encodeEvent({ wall_time: wallTime, step, values: list }));
  }

  // ------------------------------------------------------------------ torch.utils.tensorboard.SummaryWriter's names

  /** torch's add_scalar: one scalar under `tag` at `global_step` (default 0). Non-finite values are written too, as torch does. */
  add_scalar(tag: string, scalar_value: number, global_step?: number | null, walltime?: number | null): void {
    checkTag(tag, 'add_scalar tag');
    if (typeof scalar_value !== 'number') expected('a number', 'add_scalar scalar_value', scalar_value);
    this.#write(encodeEvent({ wall_time: wallTimeOf(walltime), step: stepOf(global_step, 'add_scalar'), values: [{ tag, simple_value: scalar_value }] }));
  }

  /**
   * torch's add_scalars: each `tag_scalar_dict` entry goes to its own event file in `<log_dir>/<main_tag>_<tag>/`
   * under the tag `main_tag`, so TensorBoard draws them as runs on one chart (torch's layout, '/' in the folder
   * name replaced by '_'). Those writers are closed with this one.
   */
  add_scalars(main_tag: string, tag_scalar_dict: Record<string, number>, global_step?: number | null, walltime?: number | null): void {
    checkTag(main_tag, 'add_scalars main_tag');
    if (tag_scalar_dict === null || typeof tag_scalar_dict !== 'object') expected('an object of tag: number', 'add_scalars tag_scalar_dict', tag_scalar_dict);
    const step = stepOf(global_step, 'add_scalars');
    const wall = wallTimeOf(walltime);
    for (const [tag, value] of Object.entries(tag_scalar_dict)) {
      if (typeof value !== 'number') expected('a number', `add_scalars tag_scalar_dict.${tag}`, value);
      const dir = join(this.logDir, `${main_tag}_${tag}`.replaceAll('/', '_'));
      let child = this.#children.get(dir);
      if (!child) {
        child = new TensorBoardWriter(dir);
        this.#children.set(dir, child);
      }
      child.#write(encodeEvent({ wall_time: wall, step, values: [{ tag: main_tag, simple_value: value }] }));
    }
  }

  /** torch's add_text: a text summary (text plugin, tag `<tag>/text_summary`) that TensorBoard's Text tab shows. */
  add_text(tag: string, text_string: string, global_step?: number | null, walltime?: number | null): void {
    checkTag(tag, 'add_text tag');
    if (typeof text_string !== 'string') expected('a string', 'add_text text_string', text_string);
    this.#write(encodeEvent({ wall_time: wallTimeOf(walltime), step: stepOf(global_step, 'add_text'), values: [{ tag: `${tag}/text_summary`, text: text_string }] }));
  }

  /** torch's flush: every record is already written when added; this makes it durable (fsync). */
  flush(): void {
    if (this.#fd !== null) fsyncSync(this.#fd);
    for (const c of this.#children.values()) c.flush();
  }

  /** Flush and close the event file (and add_scalars' files). Later writes are ignored. */
  close(): void {
    for (const c of this.#children.values()) c.close();
    this.#children.clear();
    if (this.#fd === null) return;
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

function checkTag(tag: unknown, name: string): void {
  if (typeof tag !== 'string' || tag.length === 0) expected('a non-empty string', name, tag);
}

function stepOf(step: unknown, what: string): number {
  if (step === undefined || step === null) return 0;
  if (typeof step !== 'number' || !Number.isInteger(step)) expected('an integer (or null)', `${what} global_step`, step);
  return step as number;
}

function wallTimeOf(walltime: unknown): number {
  if (walltime === undefined || walltime === null) return Date.now() / 1000;
  if (typeof walltime !== 'number' || !Number.isFinite(walltime)) expected('seconds since the epoch (or null)', 'walltime', walltime);
  return walltime as number;
}

/**
 * torch.utils.tensorboard.SummaryWriter: `new SummaryWriter(log_dir)` with add_scalar / add_scalars / add_text /
 * flush / close. The log_dir default is torch's, `runs/<Mon>DD_HH-MM-SS_<hostname><comment>`. It is a
 * TensorBoardWriter (addScalars and path too).
 */
export class SummaryWriter extends TensorBoardWriter {
  constructor(log_dir?: string | null, comment = '') {
    super(log_dir ?? defaultLogDir(comment));
  }

  /** torch's get_logdir(). */
  get_logdir(): string {
    return this.logDir;
  }
}

function defaultLogDir(comment: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const month = d.toLocaleString('en-US', { month: 'short' });
  return join('runs', `${month}${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}_${hostname()}${comment}`);
}

/** HF TensorBoardCallback's tag rewrite: eval_x -> eval/x, test_x -> test/x, anything else -> train/x. */
export function tensorboardTag(key: string): string {
  if (key.startsWith('eval_')) return `eval/${key.slice(5)}`;
  if (key.startsWith('test_')) return `test/${key.slice(5)}`;
  return `train/${key}`;
}

// ----------------------------------------------------------------------------------------- reading back

/** One Summary.Value read back: simple_value for scalars (NaN for other kinds); the tensor and plugin fields when present. */
export interface ReadValue {
  tag: string;
  simple_value: number;
  /** SummaryMetadata.plugin_data.plugin_name ('text' for add_text). */
  plugin_name?: string;
  /** TensorProto.dtype (7 = DT_STRING). */
  dtype?: number;
  /** TensorProto.tensor_shape dims. */
  shape?: number[];
  /** TensorProto.string_val, UTF-8 decoded (add_text's text). */
  string_val?: string[];
}

export interface ReadEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values: ReadValue[];
}

class ProtoReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let shift = 0n;
    let result = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new FormatError('truncated protobuf varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  }
  /** Read one field: [field number, wire type, value]. */
  field(): [number, number, bigint | number | Buffer] {
    const key = Number(this.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (wire) {
      case 0:
        return [field, wire, this.varint()];
      case 1: {
        const v = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
        return [field, wire, v];
      }
      case 2: {
        const n = Number(this.varint());
        const v = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return [field, wire, v];
      }
      case 5: {
        const v = this.buf.readFloatLE(this.pos);
        this.pos += 4;
        return [field, wire, v];
      }
      default:
        throw new FormatError(`unsupported protobuf wire type ${wire}`);
    }
  }
}

function decodeValue(buf: Buffer): ReadValue {
  const vr = new ProtoReader(buf);
  const out: ReadValue = { tag: '', simple_value: NaN };
  while (!vr.done) {
    const [vf, , vv] = vr.field();
    if (vf === 1) out.tag = (vv as Buffer).toString('utf8');
    else if (vf === 2) out.simple_value = vv as number;
    else if (vf === 8) {
      const t = new ProtoReader(vv as Buffer);
      while (!t.done) {
        const [tf, , tv] = t.field();
        if (tf === 1) out.dtype = Number(tv as bigint);
        else if (tf === 8) (out.string_val ??= []).push((tv as Buffer).toString('utf8'));
        else if (tf === 2) {
          const shape: number[] = [];
          const sr = new ProtoReader(tv as Buffer);
          while (!sr.done) {
            const [sf, , sv] = sr.field();
            if (sf !== 2) continue;
            const dr = new ProtoReader(sv as Buffer);
            let size = 0;
            while (!dr.done) {
              const [df, , dv] = dr.field();
              if (df === 1) size = Number(BigInt.asIntN(64, dv as bigint));
            }
            shape.push(size);
          }
          out.shape = shape;
        }
      }
    } else if (vf === 9) {
      const m = new ProtoReader(vv as Buffer);
      while (!m.done) {
        const [mf, , mv] = m.field();
        if (mf !== 1) continue;
        const pd = new ProtoReader(mv as Buffer);
        while (!pd.done) {
          const [pf, , pv] = pd.field();
          if (pf === 1) out.plugin_name = (pv as Buffer).toString('utf8');
        }
      }
    }
  }
  return out;
}

function decodeEvent(data: Buffer): ReadEvent {
  const r = new ProtoReader(data);
  const e: ReadEvent = { wall_time: 0, step: 0, values: [] };
  while (!r.done) {
    const [field, , v] = r.field();
    if (field === 1) e.wall_time = v as number;
    else if (field === 2) e.step = Number(BigInt.asIntN(64, v as bigint));
    else if (field === 3) e.file_version = (v as Buffer).toString('utf8');
    else if (field === 5) {
      const s = new ProtoReader(v as Buffer);
      while (!s.done) {
        const [f, , value] = s.field();
        if (f !== 1) continue;
        e.values.push(decodeValue(value as Buffer));
      }
    }
  }
  return e;
}

/** Parse an event file back (checking both CRCs of every record); for tests and tools. */
export function readTensorBoardEvents(path: string): ReadEvent[] {
  const buf = readFileSync(path);
  const events: ReadEvent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw new FormatError(`${path}: truncated record header at byte ${pos}`);
    const len = Number(buf.readBigUInt64LE(pos));
    if (buf.readUInt32LE(pos + 8) !== maskedCrc32c(buf.subarray(pos, pos + 8))) throw new FormatError(`${path}: bad length CRC at byte ${pos}`);
    const data = buf.subarray(pos + 12, pos + 12 + len);
    if (data.length !== len || pos + 16 + len > buf.length) throw new FormatError(`${path}: truncated record at byte ${pos}`);
    if (buf.readUInt32LE(pos + 12 + len) !== maskedCrc32c(data)) throw new FormatError(`${path}: bad data CRC at byte ${pos}`);
    events.push(decodeEvent(data));
    pos += 16 + len;
  }
  return events;
}
