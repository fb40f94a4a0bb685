/**
 * A registry named alone, as `login`, `logout` and `repo ls` take it:
 * `HOST[:PORT]`, also written `docker://HOST` or as docker's server URLs
 * (`https://HOST`, `https://index.docker.io/v1/`): a scheme, and then any
 * path after the host, are dropped. Without a scheme only a trailing `/` may
 * follow the host: `HOST/NAME` names a repository, not a registry.
 */
import { isValidRegistryHost, looksLikeHost } from '../reference.js';

export interface RegistryHostOptions {
  /** Without a scheme, accept only what docker's rule reads as a host (".", ":" or localhost): a bare word may be a path. */
  hostLike?: boolean;
}

/** The `HOST[:PORT]` that `input` names, or undefined when it names no registry by itself. */
export function parseRegistryHost(input: string, opts: RegistryHostOptions = {}): string | undefined {
  const scheme = /^(docker|https?):\/\//i.exec(input);
  let host = scheme ? input.slice(scheme[0].length) : input;
  const slash = host.indexOf('/');
  if (slash >= 0) {
    if (!scheme && slash !== host.length - 1) return undefined;
    host = host.slice(0, slash);
  }
  if (!isValidRegistryHost(host)) return undefined;
  if (!scheme && opts.hostLike && !looksLikeHost(host)) return undefined;
  return host;
}
