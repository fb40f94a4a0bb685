/**
 * `login REGISTRY -u USER --password-stdin` and `logout REGISTRY`, as docker
 * and oras have them. The password is read from stdin only (the global
 * --password-stdin): on a command line it would sit in the shell history and
 * in every process listing, so `-p`/`--password` exist only to say so.
 */
import { login, logout, parseRegistryHost, UsageError } from '../../index.js';
import type { Argv } from 'yargs';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';

const NO_PASSWORD_FLAG = 'printf %s "$PASSWORD" | ocikit login HOST -u USER --password-stdin';

function hostArgument(input: string): string {
  const host = parseRegistryHost(input);
  if (host === undefined) throw new UsageError(`${input} does not name a registry: write HOST[:PORT], e.g. localhost:5000 or registry.example.com`);
  return host;
}

export const loginCommand = defineCommand<{ registry: string; password?: unknown }>({
  command: 'login <registry>',
  examples: [
    ['printf %s "$PASSWORD" | $0 login registry.example.com -u me --password-stdin', 'store credentials for a registry'],
    ['$0 login localhost:5000 -u me --password-stdin --registry-config ./config.json < pw.txt', 'in another config file'],
  ],
  describe: 'check credentials (-u USER --password-stdin) against a registry, then store them in the docker config.json or its credential helper',
  builder: (y: Argv) => y.option('password', { alias: 'p', type: 'string', hidden: true }),
  async handler(args, ctx) {
    // Refused before anything else, and never echoed: the value is the secret.
    if (args.password !== undefined) {
      throw new UsageError('a password is never taken on the command line (-p, --password): it would stay in the shell history and the process list', { hint: `read it from stdin: ${NO_PASSWORD_FLAG}` });
    }
    const host = hostArgument(args.registry);
    if (ctx.args.username === undefined || ctx.args['password-stdin'] !== true) {
      throw new UsageError('login needs -u USER and --password-stdin', { hint: NO_PASSWORD_FLAG });
    }
    const place = await login(host, await registryOptions(ctx));
    if (place.helper === undefined) ctx.out.info(`the password is stored unencrypted (base64) in ${place.configFile}; a credential helper (credsStore) keeps it elsewhere`);
    ctx.out.result({ registry: host, ...place }, () => 'Login Succeeded');
  },
});

export const logoutCommand = defineCommand<{ registry: string }>({
  command: 'logout <registry>',
  examples: [
    ['$0 logout registry.example.com', 'forget the credentials of a registry'],
    ['$0 logout localhost:5000 --registry-config ./config.json', 'in another config file'],
  ],
  describe: 'remove the stored credentials of a registry (docker config or its credential helper)',
  async handler(args, ctx) {
    const host = hostArgument(args.registry);
    const a = ctx.args;
    const place = await logout(host, { ...(a['registry-config'] ? { configFile: a['registry-config'] } : {}) });
    ctx.out.result({ registry: host, ...place }, () => `Removed login credentials for ${host}`);
  },
});
