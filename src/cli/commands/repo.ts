/** `repo ls REGISTRY|TARGET` and `repo tags REF` (the `tags` command under the name oras gives it). */
import { existsSync } from 'node:fs';
import { listLayoutRepositories, listRegistryRepositories, parseRegistryHost, UsageError } from '../../index.js';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';
import tags, { namePage, pagingOptions } from './tags.js';

const lsCmd = defineCommand<{ target: string; last?: string; n?: string }>({
  command: 'ls <target>',
  describe: 'list repositories: a registry\'s catalog (HOST[:PORT]), or the repositories a layout or archive names',
  builder: pagingOptions,
  async handler(args, ctx) {
    const page = namePage(args);
    const names: string[] = [];
    const host = ctx.args['oci-layout'] === true ? undefined : registryArgument(args.target);
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
 * archive: a path that exists, anything with a layout transport, and with
 * --oci-layout anything at all, is one; a bare word is a host only by
 * docker's rule (".", ":" or localhost).
 */
function registryArgument(input: string): string | undefined {
  if (/^(oci|oci-archive|docker-archive):/.test(input) && !/^[a-z-]+:\/\//.test(input)) return undefined;
  if (existsSync(input)) return undefined;
  return parseRegistryHost(input, { hostLike: true });
}

export default defineCommand({
  command: 'repo',
  describe: 'list repositories (repo ls) and their tags (repo tags)',
  async handler() {},
  subcommands: [lsCmd, tags],
});
