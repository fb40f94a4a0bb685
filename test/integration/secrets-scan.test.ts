/**
 * Secrets never leave ocikit: push and pull at --debug against real
 * registries, Basic (htpasswd) and Bearer (token server), with credentials
 * from --password-stdin and from a docker config.json (`auths.<host>.auth`).
 * Every byte of stdout, stderr, the destination layout and the run's own
 * temp and home directories is searched for the password (as is, URL-encoded,
 * and inside base64 `user:password`) and for every token the token server
 * issued (whole, and its signature part alone).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterFile, expectedDigests, FIXTURES, ocikit, type RunResult, snapshotTree, tempDir } from '../helpers/cli.js';
import { indexTags, once } from '../helpers/peers.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { filesUnder, secretsFound, type Haystack } from '../helpers/secrets.js';

const USER = 'scanner';
/** Distinctive, so that a hit cannot be chance; `+`, `/` and `%` make its encodings differ from it. */
const PASSWORD = 'ocikit+Scan/Pw%7Qz-9f3e1c';
const SOURCE = path.join(FIXTURES, 'with-referrers');

const { cleanups } = afterFile();

const basic = once(async () => {
  const r = await startRegistry({ htpasswd: { [USER]: PASSWORD } });
  cleanups.push(r.stop);
  return r;
});
const token = once(async () => {
  const r = await startRegistry({ token: { users: { [USER]: PASSWORD } } });
  cleanups.push(r.stop);
  return r;
});

type CredentialSource = 'password-stdin' | 'docker config';

interface Scanned {
  found: string[];
  runs: RunResult[];
  pulled: string;
}

/**
 * Push then pull with `--debug`, credentials from `via`, in a sandbox: TMPDIR
 * and HOME are private directories, so whatever the runs write there is
 * scanned too. The docker config directory (the input holding the
 * credentials) must come out unchanged.
 */
async function pushPullAndScan(reg: RegistryHandle, repo: string, via: CredentialSource): Promise<Scanned> {
  const t = await tempDir('ocikit-secrets-');
  cleanups.push(t.cleanup);
  const dirs = { tmp: path.join(t.dir, 'tmp'), home: path.join(t.dir, 'home'), docker: path.join(t.dir, 'docker'), pulled: path.join(t.dir, 'pulled') };
  for (const d of [dirs.tmp, dirs.home, dirs.docker]) await mkdir(d);
  const b64 = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  if (via === 'docker config') await writeFile(path.join(dirs.docker, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: b64 } } }));
  const configBefore = await snapshotTree(dirs.docker);

  const env = { TMPDIR: dirs.tmp, HOME: dirs.home, DOCKER_CONFIG: dirs.docker };
  const creds = via === 'password-stdin' ? ['--username', USER, '--password-stdin'] : [];
  const input = via === 'password-stdin' ? `${PASSWORD}\n` : undefined;
  const ref = `${reg.host}/${repo}`;
  const runs: RunResult[] = [];
  for (const args of [['push', SOURCE, ref], ['pull', `${ref}:v1`, dirs.pulled]]) {
    const res = await ocikit(['--debug', ...args, ...creds], { env, ...(input !== undefined ? { input } : {}) });
    if (res.code !== 0) throw new Error(`ocikit ${args.join(' ')} (${via}) exited ${res.code}: ${res.stderr.slice(-2000)}`);
    runs.push(res);
  }
  expect(await snapshotTree(dirs.docker)).toEqual(configBefore);

  const secrets: Record<string, string> = {
    password: PASSWORD,
    'URL-encoded password': encodeURIComponent(PASSWORD),
    'base64 user:password': b64,
    'base64url user:password': Buffer.from(`${USER}:${PASSWORD}`).toString('base64url'),
  };
  (reg.tokensIssued?.() ?? []).forEach((tok, i) => {
    secrets[`token #${i + 1}`] = tok;
    secrets[`signature of token #${i + 1}`] = tok.split('.')[2]!;
  });
  const haystacks: Haystack[] = runs.flatMap((r, i) => [
    { where: `stdout of run ${i + 1}`, bytes: r.stdoutBytes },
    { where: `stderr of run ${i + 1}`, bytes: Buffer.from(r.stderr) },
  ]);
  for (const d of [dirs.pulled, dirs.tmp, dirs.home]) haystacks.push(...(await filesUnder(d)));
  return { found: secretsFound(haystacks, secrets), runs, pulled: dirs.pulled };
}

async function expectClean(s: Scanned): Promise<void> {
  // The debug log ran (request lines on stderr), and the pull did its job: the scan looked at real output.
  for (const r of s.runs) expect(r.stderr).toContain('ocikit: debug:');
  expect(indexTags(s.pulled).get('v1')).toBe((await expectedDigests())['with-referrers']!['image']);
  expect(s.found).toEqual([]);
}

describe('no password or token in any output or file of push and pull at --debug', () => {
  it('Basic auth, --password-stdin', async () => {
    await expectClean(await pushPullAndScan(await basic(), 'secrets/basic-stdin', 'password-stdin'));
  });

  it('Basic auth, docker config.json auths.auth', async () => {
    await expectClean(await pushPullAndScan(await basic(), 'secrets/basic-config', 'docker config'));
  });

  it('Bearer tokens, --password-stdin', async () => {
    const reg = await token();
    const s = await pushPullAndScan(reg, 'secrets/bearer-stdin', 'password-stdin');
    expect(reg.tokensIssued!().length).toBeGreaterThan(0);
    await expectClean(s);
  });

  it('Bearer tokens, docker config.json auths.auth', async () => {
    const reg = await token();
    const before = reg.tokensIssued!().length;
    const s = await pushPullAndScan(reg, 'secrets/bearer-config', 'docker config');
    expect(reg.tokensIssued!().length).toBeGreaterThan(before);
    await expectClean(s);
  });

  it('the scan finds a secret where there is one (the scanner itself is not blind)', async () => {
    const { dir, cleanup } = await tempDir('ocikit-secrets-probe-');
    cleanups.push(cleanup);
    await mkdir(path.join(dir, 'deep', 'er'), { recursive: true });
    await writeFile(path.join(dir, 'deep', 'er', 'blob'), Buffer.concat([Buffer.from([0, 255, 1]), Buffer.from(`x${PASSWORD}y`)]));
    const found = secretsFound(await filesUnder(dir), { password: PASSWORD });
    expect(found).toEqual([`${path.join(dir, 'deep', 'er', 'blob')}: password`]);
  });
});
