import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestIndex, DigestSet } from '../../src/util/digest-index.js';
import { BlobHomes } from '../../src/registry/blob-homes.js';
import { EntryTable } from '../../src/archive/entry-table.js';

const sha = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`;

describe('DigestIndex', () => {
  // 70,000 digests fill two pages of 32,768 and part of a third.
  it('numbers digests in the order first added, past several growths and pages, and gives each back', () => {
    const index = new DigestIndex();
    for (let i = 0; i < 70_000; i++) expect(index.add(sha(i))).toBe(i);
    // Adding again returns the same number.
    expect(index.add(sha(7))).toBe(7);
    expect(index.add(sha(40_000))).toBe(40_000);
    expect(index.size).toBe(70_000);
    for (let i = 0; i < 70_000; i += 997) {
      expect(index.get(sha(i))).toBe(i);
      expect(index.digest(i)).toBe(sha(i));
    }
    for (const i of [32_767, 32_768, 65_535, 65_536, 69_999]) expect(index.digest(i)).toBe(sha(i));
    expect(index.get(sha(70_000))).toBeUndefined();
    expect(index.has(sha(69_999))).toBe(true);
  });

  it('freezes a subset into a sorted set that answers exactly for its members', () => {
    const index = new DigestIndex();
    for (let i = 0; i < 40_000; i++) index.add(sha(i));
    index.add(`sha512:${'c'.repeat(128)}`);
    const odd = index.freeze((n) => n % 2 === 1);
    expect(odd.size).toBe(20_000);
    for (let i = 0; i < 40_000; i += 7) expect(odd.has(sha(i))).toBe(i % 2 === 1);
    // Digests of other algorithms are the caller's to keep; malformed ones are simply absent.
    expect(odd.has(`sha512:${'c'.repeat(128)}`)).toBe(false);
    expect(odd.has('sha256:nothex')).toBe(false);
    expect(index.freeze(() => false).has(sha(1))).toBe(false);
  });

  it('keeps digests of other forms (sha512, upper case) by their text, in the same numbering', () => {
    const index = new DigestIndex();
    const upper = `sha256:${'AB'.repeat(32)}`;
    const sha512 = `sha512:${'c'.repeat(128)}`;
    expect(index.add(sha(1))).toBe(0);
    expect(index.add(upper)).toBe(1);
    expect(index.add(sha512)).toBe(2);
    expect(index.add(sha(2))).toBe(3);
    expect(index.get(upper)).toBe(1);
    expect(index.get(upper.toLowerCase())).toBeUndefined();
    expect(index.digest(1)).toBe(upper);
    expect(index.digest(2)).toBe(sha512);
    expect(index.digest(3)).toBe(sha(2));
  });
});

describe('EntryTable', () => {
  it('gives back every entry by name, blob names compactly, and every name in archive order', () => {
    const table = new EntryTable();
    const names: string[] = [];
    const add = (name: string, type: 'file' | 'directory' | 'symlink', i: number) => {
      table.add({ name, type, offset: 512 * (i + 1), size: i * 3, headerOffset: 512 * i, ...(type === 'symlink' ? { linkname: 'x' } : {}) });
      names.push(name);
    };
    add('oci-layout', 'file', 0);
    add('blobs', 'directory', 1);
    for (let i = 0; i < 3000; i++) add(`blobs/sha256/${sha(i).slice(7)}`, 'file', i + 2);
    add('index.json', 'file', 3002);
    // A blob name that is a link stays a link.
    add(`blobs/sha256/${sha(5000).slice(7)}`, 'symlink', 3003);
    expect([...table.names()]).toEqual(names);
    const blob = table.get(`blobs/sha256/${sha(10).slice(7)}`)!;
    expect(blob).toEqual({ name: `blobs/sha256/${sha(10).slice(7)}`, type: 'file', offset: 512 * 13, size: 36, headerOffset: 512 * 12 });
    expect(table.get('index.json')?.offset).toBe(512 * 3003);
    expect(table.get(`blobs/sha256/${sha(5000).slice(7)}`)?.type).toBe('symlink');
    expect(table.has(`blobs/sha256/${sha(3001).slice(7)}`)).toBe(false);
    expect(table.has('blobs/sha256/nothex')).toBe(false);
  });
});

describe('DigestSet', () => {
  it('adds, answers and removes digests; a removed digest can come back', () => {
    const set = new DigestSet();
    for (let i = 0; i < 5000; i++) set.add(sha(i));
    expect(set.has(sha(4999))).toBe(true);
    expect(set.has(sha(5000))).toBe(false);
    set.delete(sha(7));
    set.delete(sha(9999)); // never added: nothing to remove
    expect(set.has(sha(7))).toBe(false);
    expect(set.has(sha(9999))).toBe(false);
    set.add(sha(7));
    expect(set.has(sha(7))).toBe(true);
  });
});

describe('BlobHomes', () => {
  it('lists the repositories known to hold a blob, the first one first, each once', () => {
    const homes = new BlobHomes();
    expect(homes.get(sha(1))).toBeUndefined();
    homes.add(sha(1), 'a');
    homes.add(sha(1), 'a');
    homes.add(sha(2), 'b');
    homes.add(sha(1), 'c');
    homes.add(sha(1), 'c');
    expect(homes.get(sha(1))).toEqual(['a', 'c']);
    expect(homes.get(sha(2))).toEqual(['b']);
  });
});
