/** `repo ls REGISTRY|TARGET` and `repo tags REF` (the `tags` command under the name oras gives it). */
import { existsSync } from 'node:fs';
import { listLayoutRepositories, listRegistryRepositories, parseReference, parseRegistryHost, UsageError } from '../../index.js';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';
import tags, { namePage, pagingOptions } from './tags.js';

const lsCmd = defineCommand<{ target: string; last?: string; n?: string }>({
  command: 'ls <target>',
  examples: [
    ['$0 repo ls localhost:5000', 'the repositories of a registry'],
    ['$0 repo ls ./layout', 'the repository names in a layout'],
  ],
  describe: 'list repositories: a registry\'s catalog (HOST[:PORT]), or the repositories a layout or archive names',
  builder: pagingOptions,
  async handler(args, ctx) {
    const page = namePage(args);
    const names: string[] = [];
    const host = registryArgument(args.target, ctx.args['oci-layout'] === true);
    if (host !== undefined) {
      for await (const name of listRegistryRepositories(host, page, await registryOptions(ctx))) names.push(name);
    } else {
      const ref = ctx.ref(args.target);
      if (ref.kind === 'registry') {
        throw new UsageError(`repo ls takes a registry (HOST[:PORT]) or a layout; ${args.target} names a repository`, { hint: `list its tags with: ocikit repo tags ${args.target}` });
      }
      if (ref.tag !== undefined || ref.digest !== undefined || ref.dockerName !== undefined) {
        throw new UsageError(`repo ls takes a layout or archive without :TAG or @DIGEST; got ${args.target}`);
      }
      const { target } = await ctx.openRead(args.target);
      names.push(...(await listLayoutRepositories(target, page)));
    }
    ctx.out.result(names, (n) => n.join('\n'));
  },
});

/**
 * The registry host that `repo ls` is given, or undefined for a layout or
 * archive: a path that exists, anything with a layout transport or that
 * reads as a layout reference (`./x`, `x.tar`), and with --oci-layout
 * anything at all, is one; a bare word is a host only by docker's rule
 * (".", ":" or localhost).
 */
function registryArgument(input: string, ociLayout: boolean): string | undefined {
  if (ociLayout || /^(oci|oci-archive|docker-archive):/.test(input) || existsSync(input)) return undefined;
  if (/^[a-z]+:\/\//i.test(input)) return parseRegistryHost(input);
  let layout = false;
  try {
    layout = parseReference(input).kind !== 'registry';
  } catch {
    // Neither a layout nor a repository reference: a registry host alone, or nothing.
  }
  return layout ? undefined : parseRegistryHost(input, { hostLike: true });
}

export default defineCommand({
  command: 'repo',
  examples: [
    ['$0 repo ls localhost:5000', 'list repositories'],
    ['$0 repo tags localhost:5000/app', 'list the tags of one'],
  ],
  describe: 'list repositories (repo ls) and their tags (repo tags)',
  async handler() {},
  subcommands: [
    lsCmd,
    {
      ...tags,
      examples: [
        ['$0 repo tags localhost:5000/app', 'the tags of a repository, one per line'],
        ['$0 repo tags ./layout --json', 'the tags of a layout, as a JSON array'],
      ],
    },
  ],
});
