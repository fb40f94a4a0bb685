#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm ci` through the prepare script).
const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // Answer without loading the CLI: scripts call this often, and it should cost about a bare `node`.
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // Keep V8's young generation at its starting size instead of letting it grow to 3 x 16 MiB: the
  // CLI allocates many short-lived objects (a manifest walk parses tens of thousands of documents),
  // and the grown young generation alone was a third of the peak RSS of `inspect` or `verify` on a
  // layout of 11,000 manifests (160 MiB, 138 MiB without it, no slower; bench/inspect.mjs). A flag
  // the user sets for node wins; the library, run inside someone else's process, is not affected.
  const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const v8 = await import('node:v8');
  if (!/semi[-_]space/.test(nodeFlags)) v8.setFlagsFromString('--semi-space-growth-factor=1');
  // Let the old generation grow by at most 20 % between full collections (V8 allows up to 4x), and
  // have V8 favour size over speed (smaller young generation, earlier collections): an audit of
  // 50,000 manifests keeps about 50 MiB of facts, and the garbage promoted around them took
  // `inspect --html` to 160 MiB (now about 143, some 10 % slower; bench/inspect.mjs, issue 16).
  if (!/heap[-_]growing/.test(nodeFlags)) v8.setFlagsFromString('--heap-growing-percent=20');
  if (!/optimize[-_]for[-_]size/.test(nodeFlags)) v8.setFlagsFromString('--optimize-for-size');
  // The CLI bundled into one file (npm run bundle) loads in a fraction of the time
  // that a hundred separate modules take; the unbundled build is the fallback.
  const load = () => import('../dist/cli/bundle.mjs').catch((err) => (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('bundle.mjs') ? import('../dist/cli/main.js') : Promise.reject(err)));
  await load().then((m) => m.main(argv)).catch((err) => {
    process.stderr.write(`ocikit: ${err && err.message ? err.message : String(err)}\n`);
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') process.stderr.write('hint: run `npm ci` (or `npm run build`) first\n');
    process.exitCode = 1;
  });
}
