/**
 * TensorBoard event files written without TensorFlow: the TFRecord framing (uint64 length, masked CRC-32C
 * of the length, data, masked CRC-32C of the data) around hand-encoded tensorflow.Event protobufs
 * (wall_time = 1, step = 2, file_version = 3, summary = 5; Summary.value = 1 {tag = 1, simple_value = 2}).
 * The first event carries file_version "brain.Event:2", as TensorFlow's writers do.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../errors.js';

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

/** A serialized tensorflow.Event. */
export function encodeEvent(e: { wall_time: number; step: number; file_version?: string; values?: { tag: string; simple_value: number }[] }): Uint8Array {
  const w = new ProtoWriter().double(1, e.wall_time).int64(2, e.step);
  if (e.file_version !== undefined) w.string(3, e.file_version);
  if (e.values && e.values.length) {
    const summary = new ProtoWriter();
    for (const v of e.values) summary.bytes(1, new ProtoWriter().string(1, v.tag).float(2, v.simple_value).finish());
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
  readonly path: string;
  #fd: number | null;

  constructor(logDir: string) {
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

  close(): void {
    if (this.#fd === null) return;
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

/** HF TensorBoardCallback's tag rewrite: eval_x -> eval/x, test_x -> test/x, anything else -> train/x. */
export function tensorboardTag(key: string): string {
  if (key.startsWith('eval_')) return `eval/${key.slice(5)}`;
  if (key.startsWith('test_')) return `test/${key.slice(5)}`;
  return `train/${key}`;
}

// ----------------------------------------------------------------------------------------- reading back

export interface ReadEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values: { tag: string; simple_value: number }[];
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
        const vr = new ProtoReader(value as Buffer);
        let tag = '';
        let simple = NaN;
        while (!vr.done) {
          const [vf, , vv] = vr.field();
          if (vf === 1) tag = (vv as Buffer).toString('utf8');
          else if (vf === 2) simple = vv as number;
        }
        e.values.push({ tag, simple_value: simple });
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
