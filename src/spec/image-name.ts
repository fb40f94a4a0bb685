/** Image names as containerd and docker write them in `io.containerd.image.name`. */
import { isValidRepositoryName, isValidTag } from '../reference.js';

export interface ImageName {
  repository: string;
  tag?: string;
}

/**
 * `[host/]repo/sitory[:tag][@digest]` → repository (without the registry
 * host) and tag. Undefined when the repository part does not fit the
 * grammar; an invalid tag is dropped, or makes the whole name invalid with
 * `strictTag`.
 */
export function parseImageName(name: string, opts: { strictTag?: boolean } = {}): ImageName | undefined {
  let rest = name;
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) parts.shift();
  const repository = parts.join('/');
  if (!isValidRepositoryName(repository)) return undefined;
  if (tag !== undefined && !isValidTag(tag)) return opts.strictTag ? undefined : { repository };
  return tag !== undefined ? { repository, tag } : { repository };
}

/**
 * A docker name as `docker save` writes it in RepoTags: Docker Hub's host
 * left out and its `library/` too (`docker.io/library/debian:12` ->
 * `debian:12`, `docker.io/me/app:1` -> `me/app:1`); other names as they are.
 */
export function familiarDockerName(name: string): string {
  const m = /^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/(.+)$/.exec(name);
  if (!m) return name;
  const rest = m[1]!;
  const library = /^library\/([^/]+)$/.exec(rest);
  return library ? library[1]! : rest;
}
