/**
 * The bounds of a paginated listing (tag lists, the referrers API): the
 * registry decides how many pages there are and what is on them, so a
 * hostile or broken one could chain pages forever, send the same two pages
 * back and forth, or fill memory with descriptors. A walk keeps count and
 * fails with a clear error instead; it never stops early in silence, which
 * would pass a cut list off as the whole one.
 *
 * - each page at most `maxPageBytes` (4 MiB, the manifest cap);
 * - at most `maxEntries` entries in all (100,000 tags or descriptors) and
 *   `maxTotalBytes` of pages in all (64 MiB);
 * - at most `maxPages` pages (10,000), and no page URL twice (a loop).
 */
import { OcikitError } from '../errors.js';
import { readBody, type HttpResponse } from './http.js';

export interface ListingLimits {
  maxEntries: number;
  maxPageBytes: number;
  maxTotalBytes: number;
  maxPages: number;
}

export const DEFAULT_LISTING_LIMITS: ListingLimits = {
  maxEntries: 100_000,
  maxPageBytes: 4 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxPages: 10_000,
};

export class ListingWalk {
  private readonly limits: ListingLimits;
  private readonly visited = new Set<string>();
  private entries = 0;
  private bytes = 0;

  /** `what`: the listing, for messages ("listing tags of registry HOST/REPO"). */
  constructor(
    private readonly what: string,
    limits: Partial<ListingLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LISTING_LIMITS, ...limits };
  }

  /** Before requesting a page: refuse a URL already listed (a loop) and one page too many. */
  visit(url: URL): void {
    if (this.visited.has(url.href)) {
      throw new OcikitError('REGISTRY_ERROR', `${this.what}: the registry's next-page links go round in a loop (page ${this.visited.size + 1} points back to an earlier page); the listing cannot be completed`, {
        hint: 'the registry is broken or hostile; report it to its operator',
      });
    }
    if (this.visited.size >= this.limits.maxPages) throw this.limit(`more than ${this.limits.maxPages} pages`);
    this.visited.add(url.href);
  }

  /** A page's body, within the page and total byte caps. */
  async read(res: HttpResponse): Promise<Buffer> {
    const room = Math.min(this.limits.maxPageBytes, this.limits.maxTotalBytes - this.bytes);
    try {
      const body = await readBody(res.body, room);
      this.bytes += body.length;
      return body;
    } catch (err) {
      if (!(err instanceof OcikitError) || err.code !== 'MANIFEST_TOO_LARGE') throw err;
      throw room < this.limits.maxPageBytes ? this.limit(`more than ${this.limits.maxTotalBytes} bytes of pages`) : this.limit(`a page of more than ${this.limits.maxPageBytes} bytes`);
    }
  }

  /** Count the entries of a page before using them. */
  count(n: number): void {
    this.entries += n;
    if (this.entries > this.limits.maxEntries) throw this.limit(`more than ${this.limits.maxEntries} entries`);
  }

  private limit(what: string): OcikitError {
    return new OcikitError('LIMIT_EXCEEDED', `${this.what}: the registry sent ${what}, past what ocikit accepts in one listing; nothing was cut silently`, {
      hint: 'a listing this large is refused to bound memory; see "Limits" in the README',
    });
  }
}
