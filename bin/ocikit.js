#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm ci` through the prepare script).
import { createRequire } from 'node:module';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // Answer without loading the CLI: scripts call this often, and it should cost about a bare `node`.
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  const { applyCliFlags, applyCommandFlags, loadCli } = createRequire(import.meta.url)('./cli-loader.cjs');
  applyCliFlags();
  // The CLI bundled into one file (npm run build) with its V8 code cache loads in a fraction of the
  // time that a hundred separate modules take; the unbundled build is the fallback.
  const load = async () => {
    try {
      return loadCli();
    } catch (err) {
      if (err && err.code === 'ENOENT') return import('../dist/cli/main.js');
      throw err;
    }
  };
  await load()
    .then((m) => {
      applyCommandFlags(argv);
      return m.main(argv);
    })
    .catch((err) => {
      process.stderr.write(`ocikit: ${err && err.message ? err.message : String(err)}\n`);
      if (err && err.code === 'ERR_MODULE_NOT_FOUND') process.stderr.write('hint: run `npm ci` (or `npm run build`) first\n');
      process.exitCode = 1;
    });
}
