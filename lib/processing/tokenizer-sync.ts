/**
 * Synchronous access to the `tokenizers` library's encoder.
 *
 * The `tokenizers` npm package (0.23) encodes only asynchronously: `Tokenizer.encode` / `encodeBatch` return
 * Promises, and no model (BPE, WordPiece, WordLevel) can be run synchronously from JavaScript. To keep
 * `Tokenizer.encode()` synchronous (the data loader and buildLabels are synchronous), the same tokenizer.json
 * is loaded into one shared worker thread; a synchronous call posts the texts to it and blocks on
 * `Atomics.wait` until the worker has run the library's `encodeBatch` and posted the ids back, which are then
 * read with `receiveMessageOnPort`. The worker is unref'd: it never keeps the process alive.
 *
 * Every tokenizer registers its tokenizer.json with the worker once (on its first synchronous call) under a
 * numeric id; a FinalizationRegistry drops it from the worker when the tokenizer is garbage collected.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TorchCaptionError } from '../errors.js';

/** Texts per worker round trip: bounds one blocking wait and the size of one message. */
const CHUNK = 2048;
/** A worker that does not answer within this time is considered dead (the call throws). */
const TIMEOUT_MS = 120_000;

// CommonJS, evaluated in the worker. Replies carry ids flattened into one Uint32Array + row offsets.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { Tokenizer } = require(workerData.tokenizersPath);
const { port, signal } = workerData;
const tokenizers = new Map();
port.on('message', async (m) => {
  if (m.op === 'free') { tokenizers.delete(m.id); return; }
  let reply;
  const transfer = [];
  try {
    let tok = tokenizers.get(m.id);
    if (tok === undefined) {
      if (typeof m.json !== 'string') throw new Error('tokenizer ' + m.id + ' is not loaded in the worker');
      tok = Tokenizer.fromString(m.json);
      tokenizers.set(m.id, tok);
    }
    const opts = { addSpecialTokens: m.addSpecialTokens };
    const encs = m.texts.length === 1 ? [await tok.encode(m.texts[0], null, opts)] : await tok.encodeBatch(m.texts, opts);
    if (m.op === 'tokens') {
      reply = { seq: m.seq, ok: true, tokens: encs.map((e) => e.getTokens()) };
    } else {
      const rows = encs.map((e) => e.getIds());
      let n = 0;
      for (const r of rows) n += r.length;
      const ids = new Uint32Array(n);
      const offsets = new Uint32Array(rows.length + 1);
      let at = 0;
      rows.forEach((r, i) => { ids.set(r, at); at += r.length; offsets[i + 1] = at; });
      reply = { seq: m.seq, ok: true, ids, offsets };
      transfer.push(ids.buffer, offsets.buffer);
    }
  } catch (err) {
    reply = { seq: m.seq, ok: false, message: String((err && err.message) || err) };
  }
  port.postMessage(reply, transfer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

interface Reply {
  seq: number;
  ok: boolean;
  message?: string;
  ids?: Uint32Array;
  offsets?: Uint32Array;
  tokens?: string[][];
}

class Bridge {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #signal: Int32Array;
  #seq = 0;
  dead = false;
  readonly loaded = new Set<number>();

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.#signal = new Int32Array(new SharedArrayBuffer(4));
    const tokenizersPath = createRequire(import.meta.url).resolve('tokenizers');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { tokenizersPath, port: port2, signal: this.#signal },
      transferList: [port2],
      name: 'torch-caption tokenizer',
    });
    this.#worker.unref();
    this.#worker.on('error', () => {
      this.dead = true;
    });
    this.#worker.on('exit', () => {
      this.dead = true;
    });
    this.#port = port1;
    this.#port.unref();
  }

  call(msg: Record<string, unknown>): Reply {
    const seq = ++this.#seq;
    Atomics.store(this.#signal, 0, 0);
    this.#port.postMessage({ ...msg, seq });
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const got = receiveMessageOnPort(this.#port) as { message: Reply } | undefined;
      if (got !== undefined) {
        if (got.message.seq === seq) return got.message;
        continue; // a stale reply (cannot happen with one caller at a time; skipped for safety)
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.#signal, 0, 0, Math.min(left, 1000)) === 'timed-out') {
        if (Date.now() >= deadline) {
          this.dead = true;
          void this.#worker.terminate();
          throw new TorchCaptionError(`The tokenizer worker thread did not answer within ${TIMEOUT_MS / 1000} s`);
        }
      }
      // A notify can come before the reply is readable on the port: reset and look again.
      Atomics.store(this.#signal, 0, 0);
    }
  }

  free(id: number): void {
    if (this.dead) return;
    this.loaded.delete(id);
    this.#port.postMessage({ op: 'free', id });
  }
}

let bridge: Bridge | null = null;
let nextId = 1;

function getBridge(): Bridge {
  if (bridge === null || bridge.dead) bridge = new Bridge();
  return bridge;
}

const registry = new FinalizationRegistry<number>((id) => bridge?.free(id));

/** A tokenizer.json served synchronously by the shared worker. */
export class SyncEncoder {
  readonly #id = nextId++;
  readonly #json: string;

  constructor(json: string, owner: object) {
    this.#json = json;
    registry.register(owner, this.#id);
  }

  #request(op: 'ids' | 'tokens', texts: readonly string[], addSpecialTokens: boolean): Reply {
    const b = getBridge();
    const first = !b.loaded.has(this.#id);
    const reply = b.call({ op, id: this.#id, texts, addSpecialTokens, json: first ? this.#json : undefined });
    if (!reply.ok) throw new TorchCaptionError(`tokenizers: ${reply.message ?? 'encoding failed'}`);
    b.loaded.add(this.#id);
    return reply;
  }

  /** The library's encodeBatch, synchronously: one id row per text. */
  encodeBatch(texts: readonly string[], addSpecialTokens: boolean): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += CHUNK) {
      const { ids, offsets } = this.#request('ids', texts.slice(i, i + CHUNK), addSpecialTokens);
      for (let r = 0; r + 1 < offsets!.length; r++) out.push(Array.from(ids!.subarray(offsets![r]!, offsets![r + 1]!)));
    }
    return out;
  }

  /** Token strings of each text (the library's Encoding.getTokens), synchronously. */
  tokenizeBatch(texts: readonly string[], addSpecialTokens: boolean): string[][] {
    const out: string[][] = [];
    for (let i = 0; i < texts.length; i += CHUNK) out.push(...this.#request('tokens', texts.slice(i, i + CHUNK), addSpecialTokens).tokens!);
    return out;
  }
}
