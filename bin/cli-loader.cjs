'use strict';
/**
 * Loads the bundled CLI (dist/cli/bundle.cjs) with the V8 code cache that
 * `npm run bundle` writes beside it. Compiling the 1.4 MB bundle was about
 * a third of a short command's start-up (`ocikit ls` of a small layout);
 * with the cache V8 deserializes the compiled functions instead
 * (bench/version.mjs). Node 20 caches nothing for ES modules, hence a
 * CommonJS bundle run through vm.Script.
 *
 * V8 checks a cache against its own version and flags, but against the
 * source only by length: the cache file starts with the SHA-256 of the
 * bundle it was made from, and is ignored unless that matches.
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'cli', 'bundle.cjs');
const SHA256_BYTES = 32;

/**
 * The V8 flags the CLI runs with (a flag the user gave node wins). They are
 * part of what V8 checks a code cache against, so the cache is written
 * under the same ones.
 */
function applyCliFlags() {
  // Keep V8's young generation at its starting size instead of letting it grow to 3 x 16 MiB: the
  // CLI allocates many short-lived objects (a manifest walk parses tens of thousands of documents),
  // and the grown young generation alone was a third of the peak RSS of `inspect` or `verify` on a
  // layout of 11,000 manifests (160 MiB, 138 MiB without it, no slower; bench/inspect.mjs).
  setUnlessGiven(/semi[-_]space/, '--semi-space-growth-factor=1');
  // Let the old generation grow by at most 20 % between full collections (V8 allows up to 4x), and
  // have V8 favour size over speed (smaller young generation, earlier collections): an audit of
  // 50,000 manifests keeps about 50 MiB of facts, and the garbage promoted around them took
  // `inspect --html` to 160 MiB (now about 143, some 10 % slower; bench/inspect.mjs, issue 16).
  setUnlessGiven(/heap[-_]growing/, '--heap-growing-percent=20');
  setUnlessGiven(/optimize[-_]for[-_]size/, '--optimize-for-size');
}

/** Set a V8 flag, unless the user gave node one that `given` matches (on its command line or in NODE_OPTIONS): theirs wins. */
function setUnlessGiven(given, flag) {
  if (given.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) return;
  require('node:v8').setFlagsFromString(flag);
}

/**
 * Commands that move bulk bytes over the network: a pull of 1 GiB receives
 * it in 16,000 socket buffers, and the small young generation the flags
 * above keep made it collect garbage for a quarter of its CPU time (pull
 * 3.4 s against 3.0 s with V8's own young generation, 86 against 102-107
 * MiB peak; bench/registry.mjs, issue 18). Their metadata is a registry's
 * worth, not a 50,000-manifest layout's.
 */
const BULK_TRANSFERS = new Set(['pull', 'push']);

/**
 * For the commands of BULK_TRANSFERS, V8's own young generation again. Set
 * once the bundle is compiled: these flags are checked against the code
 * cache too, and the cache is made under applyCliFlags' alone.
 */
function applyCommandFlags(argv) {
  // The command is the first word that is not a flag (a global flag's value could pass for one: no harm, the flags just stay).
  if (!BULK_TRANSFERS.has(argv.find((a) => !a.startsWith('-')))) return;
  setUnlessGiven(/semi[-_]space/, '--semi-space-growth-factor=2');
  setUnlessGiven(/optimize[-_]for[-_]size/, '--no-optimize-for-size');
}

/**
 * Evaluates the bundle and returns its exports ({ main }); throws ENOENT when
 * it was not built. `report` hears what became of the cache: 'used',
 * 'rejected' (by V8: another node or other flags), 'stale' (made from
 * another bundle), 'absent', or 'written'.
 */
function loadCli({ bundle = BUNDLE, cache = `${bundle}.v8-cache`, writeCodeCache = false, report = () => {} } = {}) {
  const source = fs.readFileSync(bundle, 'utf8');
  const digest = createHash('sha256').update(source).digest();
  let cachedData;
  let status = 'absent';
  if (!writeCodeCache) {
    try {
      const data = fs.readFileSync(cache);
      if (data.subarray(0, SHA256_BYTES).equals(digest)) cachedData = data.subarray(SHA256_BYTES);
      else status = 'stale';
    } catch {
      // No cache (or unreadable): compile from source, as without one.
    }
  }
  // The CommonJS wrapper on the first line, so stack traces keep the bundle's line numbers.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData) status = script.cachedDataRejected ? 'rejected' : 'used';
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  if (writeCodeCache) {
    // After evaluation, so the functions run while loading are in the cache too.
    const tmp = `${cache}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
    fs.renameSync(tmp, cache);
    status = 'written';
  }
  report(status);
  return module.exports;
}

module.exports = { applyCliFlags, applyCommandFlags, loadCli, BUNDLE };
