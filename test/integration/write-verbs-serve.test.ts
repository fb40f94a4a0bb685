/** The write verbs against `ocikit serve --writable` (referrers API; deletes refused); see write-verbs-steps.ts. */
import { afterAll } from 'vitest';
import { afterFile } from '../helpers/cli.js';
import { stopAllServers } from './serve-helpers.js';
import { describeWriteVerbs } from './write-verbs-steps.js';

const scope = afterFile();
afterAll(stopAllServers);
describeWriteVerbs('serve', scope);
