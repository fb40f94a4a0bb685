/** Storing and erasing credentials in a docker config.json, in process: the edges the CLI tests do not reach. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eraseCredential, storeCredential } from '../../src/registry/credentials-store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function config(text: string | undefined): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'ocikit-unit-'));
  dirs.push(d);
  const file = path.join(d, 'config.json');
  if (text !== undefined) await writeFile(file, text);
  return file;
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('storeCredential', () => {
  it('an empty file is an empty config', async () => {
    const file = await config('');
    await storeCredential('r.example:5000', 'u', 'secret-pw', { configFile: file });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ auths: { 'r.example:5000': { auth: b64('u:secret-pw') } } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('"auths" that is not an object is refused, and the file is left as it was', async () => {
    const text = JSON.stringify({ auths: ['not', 'an', 'object'], psFormat: 'x' });
    const file = await config(text);
    await expect(storeCredential('r.example', 'u', 'secret-pw', { configFile: file })).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('Docker Hub goes under https://index.docker.io/v1/, replacing its other spellings', async () => {
    const file = await config(JSON.stringify({ auths: { 'docker.io': { auth: b64('old:old') }, 'index.docker.io': { auth: b64('old:old') }, 'x.example': { auth: b64('x:x') } } }));
    await storeCredential('docker.io', 'u', 'secret-pw', { configFile: file });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ auths: { 'x.example': { auth: b64('x:x') }, 'https://index.docker.io/v1/': { auth: b64('u:secret-pw') } } });
  });

  it('a credential helper that is not installed: an error, and the config untouched', async () => {
    const text = JSON.stringify({ credsStore: 'not-installed-ocikit-unit', auths: { 'r.example': { auth: b64('old:old') } } });
    const file = await config(text);
    await expect(storeCredential('r.example', 'u', 'secret-pw', { configFile: file })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await readFile(file, 'utf8')).toBe(text);
  });
});

describe('eraseCredential', () => {
  it('removes every spelling of the registry and keeps the rest; NOT_FOUND when nothing is stored, or no file exists', async () => {
    const file = await config(JSON.stringify({ auths: { 'https://r.example': { auth: 'a' }, 'r.example': { auth: 'b' }, 'o.example': { auth: 'c' } }, credHelpers: {} }));
    const place = await eraseCredential('r.example', { configFile: file });
    expect(place.written).toBe(true);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ auths: { 'o.example': { auth: 'c' } }, credHelpers: {} });
    await expect(eraseCredential('r.example', { configFile: file })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(eraseCredential('r.example', { configFile: await config(undefined) })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
