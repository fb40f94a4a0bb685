import { listTagPage, UsageError, type NamePage } from '../../index.js';
import type { Argv } from 'yargs';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';

/** `--last NAME` and `-n N`: where a listing starts, and the page size asked of a registry. */
export function pagingOptions(y: Argv): Argv {
  return y
    .option('last', { type: 'string', requiresArg: true, describe: 'list the names that sort after NAME' })
    .option('n', { type: 'string', requiresArg: true, describe: 'registries: ask for pages of N names (every page is followed)' });
}

export function namePage(args: { last?: unknown; n?: unknown }): NamePage {
  const page: NamePage = {};
  if (args.last !== undefined) {
    if (typeof args.last !== 'string' || args.last === '') throw new UsageError('--last takes one name, given once');
    page.last = args.last;
  }
  if (args.n !== undefined) {
    const n = Number(args.n);
    if (Array.isArray(args.n) || !/^\d+$/.test(String(args.n)) || n < 1 || n > 100_000) throw new UsageError(`-n takes a whole number from 1 to 100000; got "${String(args.n)}"`);
    page.pageSize = n;
  }
  return page;
}

/** `tags` and its alias `repo tags`. */
export default defineCommand<{ target: string; last?: string; n?: string }>({
  command: 'tags <target>',
  examples: [
    ['$0 tags ./layout', 'tag names, one per line'],
    ['$0 tags localhost:5000/app --last v1 -n 100', 'tags after v1, asking the registry for pages of 100'],
  ],
  describe: 'list tag names, one per line (--last T, -n N: paging on registries)',
  builder: pagingOptions,
  async handler(args, ctx) {
    const page = namePage(args);
    const ref = ctx.ref(args.target);
    const tags: string[] = [];
    for await (const t of listTagPage(ref, page, ref.kind === 'registry' ? { registry: await registryOptions(ctx) } : {})) tags.push(t);
    ctx.out.result(tags, (t) => t.join('\n'));
  },
});
