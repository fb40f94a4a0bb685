/**
 * inspect shows, per image, which signatures and attestations are valid and
 * by whom: in the JSON (node.signatures and summary.signatures), in the text
 * and in the HTML report, on a layout directory, a .tar read in place and a
 * registry on loopback. The signatures are cosign's simple signing made by
 * openssl (helpers/cosign-fixtures.ts); the CLI runs offline (helpers/offline.ts).
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, ocikit, run } from '../helpers/cli.js';
import { once, requireTool } from '../helpers/peers.js';
import { offlineGuard, type OfflineGuard } from '../helpers/offline.js';
import { startRegistry } from '../helpers/registry.js';
import { addImage, attestImage, emptyLayout, makeKey, signImage } from '../helpers/cosign-fixtures.js';

const { tmp } = afterFile();

interface Check {
  manifest: string;
  placement: string;
  kind: string;
  verdict: string;
  signer?: { keyFingerprint?: string; keySource?: string };
  predicateType?: string;
}
interface Node {
  digest: string;
  signatures?: Check[];
}
interface Report {
  roots: Array<{ tags: string[]; node: Node }>;
  summary: { signatures?: Record<string, number> };
}

let guard: OfflineGuard;

/**
 * Three images: `good` signed under cosign's tag and attested as a referrer
 * with the key, `tampered` whose signature payload was changed after signing,
 * `other` signed with a signature of `good` (wrong subject), and `plain`
 * with nothing.
 */
const world = once(async () => {
  requireTool('openssl');
  const dir = await tmp();
  guard = await offlineGuard(dir);
  const key = await makeKey(dir, 'ecdsa-p256');
  const layout = await emptyLayout(path.join(dir, 'layout'));
  const good = await addImage(layout, 'good');
  const tampered = await addImage(layout, 'tampered');
  const other = await addImage(layout, 'other');
  const plain = await addImage(layout, 'plain');
  await signImage(layout, good, key, { placement: 'tag' });
  await attestImage(layout, good, key, { placement: 'referrer', predicateType: 'https://slsa.dev/provenance/v1' });
  await signImage(layout, tampered, key, { placement: 'referrer', tamper: 'payload' });
  await signImage(layout, other, key, { placement: 'referrer', signedDigest: good.digest });
  const tar = `${layout}.tar`;
  const packed = await run('tar', ['-C', layout, '-cf', tar, '.']);
  expect(packed.code, packed.stderr).toBe(0);
  return { dir, key, layout, tar, good, tampered, other, plain };
});

async function inspect(target: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return ocikit(['inspect', target, ...args], { env: guard.env });
}

function nodeOf(report: Report, digest: string): Node {
  const root = report.roots.find((r) => r.node.digest === digest);
  expect(root, `a root for ${digest}`).toBeDefined();
  return root!.node;
}

const verdicts = (n: Node) => (n.signatures ?? []).map((c) => c.verdict).sort();

describe('inspect shows each image\'s signatures and attestations', () => {
  for (const form of ['layout', 'tar'] as const) {
    it(`with --key, on a ${form === 'layout' ? 'layout directory' : '.tar read in place'}: valid by the key's fingerprint, invalid, of another image, none`, async () => {
      const w = await world();
      const r = await inspect(w[form], ['--key', w.key.publicFile, '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      const good = nodeOf(report, w.good.digest);
      expect(verdicts(good)).toEqual(['valid', 'valid']);
      for (const c of good.signatures!) expect(c.signer?.keyFingerprint).toMatch(/^SHA256:/);
      expect(good.signatures!.map((c) => c.kind).sort()).toEqual(['cosign-attestation', 'cosign-signature']);
      expect(good.signatures!.find((c) => c.kind === 'cosign-attestation')!.predicateType).toBe('https://slsa.dev/provenance/v1');
      expect(good.signatures!.find((c) => c.kind === 'cosign-signature')!.placement).toBe('tag');
      expect(verdicts(nodeOf(report, w.tampered.digest))).toEqual(['invalid']);
      expect(verdicts(nodeOf(report, w.other.digest))).toEqual(['wrong-subject']);
      expect(nodeOf(report, w.plain.digest).signatures).toBeUndefined();
      expect(report.summary.signatures).toEqual({ valid: 2, invalid: 1, 'wrong-subject': 1, unverified: 0 });
    });
  }

  it('without a key every signature found is shown as not checked, never valid', async () => {
    const w = await world();
    const r = await inspect(w.layout, ['--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(verdicts(nodeOf(report, w.good.digest))).toEqual(['unverified', 'unverified']);
    expect(report.summary.signatures?.valid).toBe(0);
  });

  it('the text names the signer of a valid signature and marks the others, apart from digest checks', async () => {
    const w = await world();
    const r = await inspect(w.layout, ['--key', w.key.publicFile]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.includes('signature valid:') && l.includes('SHA256:'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('signature INVALID:'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('signature of ANOTHER image:'))).toHaveLength(1);
    expect(lines.some((l) => /^signatures: 2 valid, 1 INVALID, 1 of another image$/.test(l))).toBe(true);
  });

  it('the HTML report carries the checks and the counts', async () => {
    const w = await world();
    const html = path.join(w.dir, 'report.html');
    const r = await inspect(w.tar, ['--key', w.key.publicFile, '--html', html]);
    expect(r.code, r.stderr).toBe(0);
    const page = await readFile(html, 'utf8');
    const json = page.slice(page.indexOf('<script id="report" type="application/json">') + '<script id="report" type="application/json">'.length);
    const report = JSON.parse(json.slice(0, json.indexOf('</script>'))) as Report;
    expect(verdicts(nodeOf(report, w.good.digest))).toEqual(['valid', 'valid']);
    expect(report.summary.signatures).toEqual({ valid: 2, invalid: 1, 'wrong-subject': 1, unverified: 0 });
  });

  it('on a registry (distribution 2.8 on loopback, no referrers API): the same verdicts, and for one tag', async () => {
    const w = await world();
    const registry = await startRegistry();
    try {
      const repo = `${registry.host}/signed/inspect`;
      const pushed = await ocikit(['push', w.layout, repo], { env: guard.env });
      expect(pushed.code, pushed.stderr).toBe(0);
      const r = await inspect(repo, ['--key', w.key.publicFile, '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      expect(verdicts(nodeOf(report, w.good.digest))).toEqual(['valid', 'valid']);
      expect(verdicts(nodeOf(report, w.tampered.digest))).toEqual(['invalid']);
      expect(verdicts(nodeOf(report, w.other.digest))).toEqual(['wrong-subject']);
      const one = await inspect(`${repo}:good`, ['--key', w.key.publicFile, '--format', 'json']);
      expect(one.code, one.stderr).toBe(0);
      expect(verdicts(nodeOf(JSON.parse(one.stdout) as Report, w.good.digest))).toEqual(['valid', 'valid']);
    } finally {
      await registry.stop();
    }
  });

  it('a key file that is not a public key is a usage error (exit 2), before anything is read', async () => {
    const w = await world();
    const r = await inspect(w.layout, ['--key', path.join(w.layout, 'oci-layout'), '--format', 'json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout || r.stderr)).toMatchObject({ error: { code: 'USAGE' } });
  });

  it('offline: no connection but loopback was attempted', async () => {
    await world();
    expect(await guard.attempts()).toEqual([]);
  });
});
