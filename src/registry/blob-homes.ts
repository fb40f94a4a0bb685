/**
 * Which repositories of a registry are known to hold each blob, for
 * cross-repository mounts. A push of 50,000 images knows 100,000 blobs,
 * nearly all in one repository: each is a digest number (DigestIndex) and
 * the name of its first repository (one shared string), with a list only
 * for the few found in several.
 */
import { DigestIndex } from '../util/digest-index.js';

export class BlobHomes {
  private readonly digests = new DigestIndex();
  private readonly first: string[] = [];
  private readonly more = new Map<number, string[]>();

  /** The repositories known to hold `digest`, the first one first. */
  get(digest: string): readonly string[] | undefined {
    const n = this.digests.get(digest);
    if (n === undefined) return undefined;
    const more = this.more.get(n);
    return more ? [this.first[n]!, ...more] : [this.first[n]!];
  }

  add(digest: string, repository: string): void {
    const n = this.digests.add(digest);
    if (n === this.first.length) {
      this.first.push(repository);
      return;
    }
    if (this.first[n] === repository) return;
    const more = this.more.get(n);
    if (!more) this.more.set(n, [repository]);
    else if (!more.includes(repository)) more.push(repository);
  }
}
