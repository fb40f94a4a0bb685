/**
 * Hashing on a second thread, for copies that hashing would otherwise bound.
 *
 * `pack` and `unpack` copy a blob with positional reads and writes (libuv's
 * thread pool) and hash it on the way. Hashed on the main thread, SHA-256
 * (≈ 0.6 s/GiB with SHA-NI) runs beside the reads and writes but the main
 * thread also has to issue them, so each chunk waits for the hash of the one
 * before. Here one worker thread per process hashes chunks that live in
 * shared memory (SharedArrayBuffer: nothing is copied between threads), in
 * the order they were handed over, and says when it is done with each, so
 * that the caller knows when it may fill that buffer again. The main thread
 * only moves bytes.
 *
 * The worker is started on first use, kept for the rest of the process and
 * does not keep the process alive while no hash is under way (it is
 * unreferenced between jobs). Its source is a string evaluated by Node
 * (`eval: true`), so that it works the same from the bundled CLI, from the
 * unbundled build and from a library user's bundle, none of which could be
 * relied on to ship a separate worker file next to it.
 */
import { Worker } from 'node:worker_threads';

/**
 * The worker: one hash per job, updated from views of the shared buffers registered with the job.
 * Dynamic imports, because evaluated code is a CommonJS script or a module depending on the
 * parent's flags (`--input-type=module` makes it a module, where `require` does not exist).
 * Messages posted before the imports resolve wait in the port until the listener starts it.
 */
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:crypto')]).then(([{ parentPort }, { createHash }]) => {
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'begin') {
    jobs.set(m.job, { hash: createHash(m.algorithm), views: m.memories.map((s) => new Uint8Array(s)) });
  } else if (m.op === 'update') {
    const job = jobs.get(m.job);
    job.hash.update(job.views[m.buffer].subarray(0, m.length));
    parentPort.postMessage({ job: m.job, seq: m.seq });
  } else if (m.op === 'digest') {
    const job = jobs.get(m.job);
    jobs.delete(m.job);
    parentPort.postMessage({ job: m.job, hex: job.hash.digest('hex') });
  } else if (m.op === 'drop') {
    jobs.delete(m.job);
  }
});
});
`;

interface Waiter {
  resolve: (value: string | undefined) => void;
  reject: (err: Error) => void;
}

/** The process's hash worker and the replies it owes, by job and sequence number. */
class HashWorker {
  private readonly worker: Worker;
  /** `${job}:${seq}` for an update, `${job}` for a digest. */
  private readonly waiting = new Map<string, Waiter>();
  private failure?: Error;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', (m: { job: number; seq?: number; hex?: string }) => {
      const key = m.seq === undefined ? `${m.job}` : `${m.job}:${m.seq}`;
      const waiter = this.waiting.get(key);
      this.waiting.delete(key);
      if (this.waiting.size === 0) this.worker.unref();
      waiter?.resolve(m.hex);
    });
    const fail = (err: Error): void => {
      this.failure = err;
      if (shared === this) shared = undefined;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)));
  }

  post(message: object): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(message);
  }

  /** A promise for the reply `key`; the worker keeps the process alive until it has answered. */
  reply(key: string): Promise<string | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(key, { resolve, reject });
    });
  }
}

let shared: HashWorker | undefined;
let nextJob = 1;

/**
 * One running hash on the worker over a fixed set of shared buffers. Use:
 * `update(i, n)` for the first n bytes of buffer i, in content order; the
 * promise it returns says the worker is done reading that buffer. Then
 * `digest()` once, or `drop()` to abandon it.
 */
export class ThreadHash {
  private seq = 0;
  private ended = false;

  private constructor(
    private readonly worker: HashWorker,
    private readonly job: number,
  ) {}

  /**
   * Start a hash of `algorithm` (a node:crypto name) over `buffers`, which must
   * be views of SharedArrayBuffers (allocSharedBuffer). Throws when no worker
   * thread can be started; the caller then hashes on its own thread.
   */
  static start(algorithm: string, buffers: readonly Buffer[]): ThreadHash {
    shared ??= new HashWorker();
    const job = nextJob++;
    shared.post({ op: 'begin', job, algorithm, memories: buffers.map((b) => b.buffer) });
    return new ThreadHash(shared, job);
  }

  update(buffer: number, length: number): Promise<void> {
    const seq = this.seq++;
    // Post first: a worker that is gone throws here, before a reply is awaited. The reply cannot
    // arrive before it is registered (messages are delivered by the event loop, after this returns).
    this.worker.post({ op: 'update', job: this.job, seq, buffer, length });
    return this.worker.reply(`${this.job}:${seq}`).then(() => undefined);
  }

  /** The hex digest of everything updated. */
  async digest(): Promise<string> {
    this.ended = true;
    this.worker.post({ op: 'digest', job: this.job });
    return (await this.worker.reply(`${this.job}`)) as string;
  }

  /** Abandon the hash (after a failed copy); the worker forgets it. */
  drop(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.worker.post({ op: 'drop', job: this.job });
    } catch {
      // The worker is gone: so is the job.
    }
  }
}

/** A zero-filled Buffer over its own SharedArrayBuffer, which ThreadHash can read without a copy. */
export function allocSharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}
