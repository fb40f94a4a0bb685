#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm ci` through the prepare script).
const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // Answer without loading the CLI: scripts call this often, and it should cost about a bare `node`.
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // The CLI bundled into one file (npm run bundle) loads in a fraction of the time
  // that a hundred separate modules take; the unbundled build is the fallback.
  const load = () => import('../dist/cli/bundle.mjs').catch((err) => (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('bundle.mjs') ? import('../dist/cli/main.js') : Promise.reject(err)));
  await load().then((m) => m.main(argv)).catch((err) => {
    process.stderr.write(`ocikit: ${err && err.message ? err.message : String(err)}\n`);
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') process.stderr.write('hint: run `npm ci` (or `npm run build`) first\n');
    process.exitCode = 1;
  });
}
