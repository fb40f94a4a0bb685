/**
 * The byte sinks and the verified range copy behind pack, unpack and pull:
 * the buffer rotation of copyVerifiedRange never hands a writer a buffer
 * that is being refilled (checked with writes that finish in random order of
 * time), flush-behind fsyncs a large file along the way and reports an fsync
 * failure, a short writev is completed, and FdSink appends at the
 * descriptor's own offset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FdSink, FileSink, StreamSink, sinkForStream } from '../../src/fs/byte-sink.js';
import { copyVerifiedRange } from '../../src/fs/file-range.js';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-byte-sink-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1024 * 1024;

describe('copyVerifiedRange', () => {
  // Several whole chunks plus a partial one, from an offset inside the file (an archive entry).
  const content = randomBytes(5 * MiB + 12345);
  const lead = 512;

  async function rangeFile(): Promise<{ fd: number; file: string }> {
    const file = path.join(work, `range-${randomBytes(4).toString('hex')}`);
    await writeFile(file, Buffer.concat([Buffer.alloc(lead, 7), content, Buffer.alloc(100, 9)]));
    return { fd: fs.openSync(file, 'r'), file };
  }

  it('hands over every byte in order, each chunk intact until its write resolves', async () => {
    const { fd, file } = await rangeFile();
    const seen: Buffer[] = [];
    let released = false;
    await copyVerifiedRange(
      { fd, start: lead, size: content.length, path: file, release: async () => void (released = true) },
      { digest: sha256(content), size: content.length },
      async (chunk) => {
        const before = Buffer.from(chunk);
        // A slow writer: if the copy refilled this buffer before the write resolved, the bytes would change under us.
        await new Promise((r) => setTimeout(r, Math.random() * 15));
        expect(chunk.equals(before)).toBe(true);
        seen.push(before);
      },
    );
    fs.closeSync(fd);
    expect(Buffer.concat(seen).equals(content)).toBe(true);
    expect(released).toBe(true);
  });

  it('fails on a digest mismatch after the last chunk, and releases the range', async () => {
    const { fd, file } = await rangeFile();
    let released = false;
    const wrong = sha256(Buffer.from('something else'));
    await expect(
      copyVerifiedRange({ fd, start: lead, size: content.length, path: file, release: async () => void (released = true) }, { digest: wrong, size: content.length }, async () => undefined),
    ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    fs.closeSync(fd);
    expect(released).toBe(true);
  });

  it('stops at the first failed write and reports it', async () => {
    const { fd, file } = await rangeFile();
    let writes = 0;
    await expect(
      copyVerifiedRange({ fd, start: lead, size: content.length, path: file }, { digest: sha256(content), size: content.length }, async () => {
        if (++writes === 2) throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    fs.closeSync(fd);
    expect(writes).toBe(2);
  });

  it('refuses a range shorter than the file claims (truncated after opening)', async () => {
    const { fd, file } = await rangeFile();
    fs.ftruncateSync(fs.openSync(file, 'r+'), lead + MiB);
    await expect(
      copyVerifiedRange({ fd, start: lead, size: content.length, path: file }, { digest: sha256(content), size: content.length }, async () => undefined),
    ).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    fs.closeSync(fd);
  });
});

describe('FileSink', () => {
  it('fsyncs along the way once past flushEvery, and the file holds every byte', async () => {
    const file = path.join(work, 'flush-behind');
    const handle = await open(file, 'w');
    let syncs = 0;
    const datasync = handle.datasync.bind(handle);
    handle.datasync = () => {
      syncs++;
      return datasync();
    };
    const sink = new FileSink(handle, { flushEvery: MiB });
    const parts = Array.from({ length: 8 }, () => randomBytes(MiB / 2 + 3));
    for (const p of parts) await sink.write(p);
    await sink.end();
    await handle.close();
    expect(syncs).toBeGreaterThan(0);
    expect((await readFile(file)).equals(Buffer.concat(parts))).toBe(true);
  });

  it('never fsyncs a file smaller than flushEvery', async () => {
    const handle = await open(path.join(work, 'small'), 'w');
    let syncs = 0;
    handle.datasync = async () => void syncs++;
    const sink = new FileSink(handle, { flushEvery: MiB });
    await sink.write(randomBytes(MiB - 1));
    await sink.end();
    await handle.close();
    expect(syncs).toBe(0);
  });

  it('reports a failed flush-behind fsync on the next write or at the end', async () => {
    const handle = await open(path.join(work, 'eio'), 'w');
    handle.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const sink = new FileSink(handle, { flushEvery: 10 });
    await sink.write(Buffer.alloc(20));
    await expect(sink.end()).rejects.toThrow('EIO');
    await expect(sink.write(Buffer.alloc(1))).rejects.toThrow('EIO');
    await handle.close();
  });

  it('completes a writev that the kernel took only part of', async () => {
    const file = path.join(work, 'short-writev');
    const handle = await open(file, 'w');
    const writev = handle.writev.bind(handle);
    // Take only the first 5 bytes of the first call.
    let first = true;
    handle.writev = (async (buffers: NodeJS.ArrayBufferView[], position?: number) => {
      if (!first) return writev(buffers, position);
      first = false;
      const r = await handle.write(buffers[0] as Buffer, 0, 5, position);
      return { bytesWritten: r.bytesWritten, buffers };
    }) as typeof handle.writev;
    const sink = new FileSink(handle);
    const chunks = [Buffer.from('first-chunk|'), Buffer.from('second|'), Buffer.from('third')];
    await sink.writeMany(chunks);
    await sink.write(Buffer.from('|after'));
    await handle.close();
    expect(await readFile(file, 'utf8')).toBe('first-chunk|second|third|after');
  });

  it('as a pipeline stage, batches queued chunks and waits for its flush before finishing', async () => {
    const file = path.join(work, 'writable');
    const handle = await open(file, 'w');
    const sink = new FileSink(handle, { flushEvery: 64 });
    const out = sink.asWritable(MiB);
    const pieces = Array.from({ length: 50 }, (_, i) => Buffer.from(`piece ${i};`));
    for (const p of pieces) out.write(p);
    out.end();
    await finished(out);
    await handle.close();
    expect(await readFile(file, 'utf8')).toBe(pieces.map(String).join(''));
  });
});

describe('FdSink and sinkForStream', () => {
  it('writes at the descriptor offset, after what is already there (stdout opened with >>)', async () => {
    const file = path.join(work, 'append');
    await writeFile(file, 'existing;');
    const fd = fs.openSync(file, 'a');
    const sink = new FdSink(fd);
    await sink.write(Buffer.from('one;'));
    await sink.write(Buffer.from('two'));
    await sink.end();
    fs.closeSync(fd);
    expect(await readFile(file, 'utf8')).toBe('existing;one;two');
  });

  it('uses the descriptor of a stream that is a regular file, and the stream otherwise', async () => {
    const fd = fs.openSync(path.join(work, 'regular'), 'w');
    const fileStream = Object.assign(new PassThrough(), { fd });
    expect(sinkForStream(fileStream, Promise.resolve())).toBeInstanceOf(FdSink);
    fs.closeSync(fd);
    const pipe = new PassThrough();
    expect(sinkForStream(pipe, finished(pipe))).toBeInstanceOf(StreamSink);
    // A character device (as a terminal is) is not a regular file.
    const devNull = fs.openSync('/dev/null', 'w');
    expect(sinkForStream(Object.assign(new PassThrough(), { fd: devNull }), Promise.resolve())).toBeInstanceOf(StreamSink);
    fs.closeSync(devNull);
  });
});
