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
