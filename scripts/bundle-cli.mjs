#!/usr/bin/env node
/**
 * Bundles the CLI into one CommonJS file, dist/cli/bundle.cjs (run by
 * `npm run build`), then writes the V8 code cache that bin/cli-loader.cjs
 * loads it with. Node loads one file instead of about a hundred modules;
 * the library itself stays unbundled in dist/.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Packages whose loading does work at start-up that a short command never
 * needs: string-width (three copies, for yargs's help layout) builds a
 * Unicode-emoji regular expression and an Intl.Segmenter as it loads, about
 * 11 ms of the 170 of `ocikit ls`. Each import of them gets a stand-in that
 * loads the real module the first time it is called.
 */
const DEFERRED = { 'string-width': 'stringWidth' };

const deferLoading = {
  name: 'defer-loading',
  setup(b) {
    const names = Object.keys(DEFERRED).map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, async (args) => {
      if (args.pluginData?.real) return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { real: true } });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'deferred', pluginData: { name: args.path } };
    });
    // Every deferred package exports one default function; the stand-in has the same shape.
    b.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => ({
      contents: `let real;\nexport default function ${DEFERRED[args.pluginData.name]}(...args) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(...args);\n}\n`,
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * Node's own modules that only some commands use (the network, compression,
 * child processes): loading them was 15 ms of `ocikit ls`, for a command that
 * never opens a socket. Each import of them gets an object whose properties,
 * named as this node names them, load the real module on first use.
 */
const LAZY_BUILTINS = ['http', 'https', 'tls', 'net', 'zlib', 'child_process', 'assert'];

const loadBuiltinsLazily = {
  name: 'lazy-builtins',
  setup(b) {
    const nodeRequire = createRequire(import.meta.url);
    b.onResolve({ filter: new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`) }, (args) =>
      // The stand-in's own require of the real module stays a plain require.
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const real = nodeRequire(`node:${args.path}`);
      // assert is itself a function: its stand-in is one too, and keeps a function's own properties.
      const callable = typeof real === 'function';
      const names = Object.getOwnPropertyNames(real).filter((n) => !['default', 'length', 'name', 'prototype', 'caller', 'arguments'].includes(n));
      return {
        contents: [
          `let real;`,
          `const load = () => (real ??= require(${JSON.stringify(`node:${args.path}`)}));`,
          callable ? `module.exports = function (...args) { return load().apply(this, args); };` : '',
          `for (const name of ${JSON.stringify(names)}) Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });`,
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/cli/bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  plugins: [deferLoading, loadBuiltinsLazily],
  // The sources are ES modules; in CommonJS, import.meta comes from the bundle's own file name.
  define: { 'import.meta.url': '__ocikitImportMetaUrl', 'import.meta.resolve': '__ocikitImportMetaResolve' },
  banner: {
    js: "const __ocikitImportMetaUrl = require('node:url').pathToFileURL(__filename).href; const __ocikitImportMetaResolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;",
  },
});

// In a fresh node, under the CLI's own V8 flags: V8 rejects a cache made under other flags.
execFileSync(process.execPath, ['-e', "const l = require('./bin/cli-loader.cjs'); l.applyCliFlags(); l.loadCli({ writeCodeCache: true });"], { cwd: root, stdio: 'inherit' });
