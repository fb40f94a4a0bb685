/**
 * The write verbs against distribution 2.8 (no referrers API: the fallback
 * tag), see write-verbs-steps.ts; and deletes behind token auth, where the
 * registry checks a `delete` action of its own in the token (coverage: the
 * registry's challenge names that action too, so this is not the test of
 * the scope ocikit asks for up front).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterFile, FIXTURES } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';
import { expectFailure, expectSuccess } from './_support.js';
import { describeWriteVerbs } from './write-verbs-steps.js';

const scope = afterFile();
describeWriteVerbs('distribution', scope);

describe('deletes with token auth', { timeout: 60_000 }, () => {
  it('manifest delete works behind token auth: the token it uses carries the delete action', async () => {
    const reg = await startRegistry({ token: { users: { alice: 'pw-for-tests' } } });
    scope.cleanups.push(reg.stop);
    const base = `${reg.host}/tok/app`;
    const login = ['--username', 'alice', '--password-stdin'];
    const input = 'pw-for-tests\n';
    await expectSuccess(['copy', ...login, `${path.join(FIXTURES, 'single-image')}:v1`, `${base}:v1`], { input });
    await expectSuccess(['manifest', 'delete', ...login, `${base}:v1`], { input });
    const scopes = reg.tokensIssued!().map((t) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as { access: Array<{ actions: string[] }> });
    expect(scopes.some((c) => c.access.some((a) => a.actions.includes('delete')))).toBe(true);
    await expectFailure(['resolve', ...login, `${base}:v1`], { exit: 1, code: 'NOT_FOUND', input });
  });
});
