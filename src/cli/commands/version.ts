import { version } from '../version.js';
import { defineCommand } from './command.js';

export default defineCommand({
  command: 'version',
  describe: 'print the version of ocikit (--format json: also the Node.js version it runs on)',
  examples: [
    ['$0 version', 'print the version, e.g. 0.1.0'],
    ['$0 version --format json', 'print {"version": ..., "node": ...}'],
  ],
  async handler(_args, ctx) {
    ctx.out.result({ version: version(), node: process.versions.node }, (v) => v.version);
  },
});
