#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm ci` through the prepare script).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  process.stderr.write(`ocikit: ${err && err.message ? err.message : String(err)}\n`);
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') process.stderr.write('hint: run `npm ci` (or `npm run build`) first\n');
  process.exitCode = 1;
});
