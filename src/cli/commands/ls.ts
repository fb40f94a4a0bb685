import { formatBytes, listEntries, OcikitError, type EntryRow } from '../../index.js';
import { tableLines, terminalWidth, type TableFit } from '../output.js';
import { defineCommand } from './command.js';

export default defineCommand<{ target: string; trunc?: boolean }>({
  command: 'ls <target>',
  examples: [
    ['$0 ls ./layout', 'list every entry of a layout (a short table on a terminal)'],
    ['$0 ls image.tar --no-trunc', 'full digests and columns, even on a terminal'],
  ],
  describe: 'list every entry of index.json (or every tag of a repository)',
  builder: (y) => y.option('trunc', { type: 'boolean', default: true, describe: 'on a terminal, short digests and columns cut to its width (--no-trunc: full rows, as when piped)' }),
  async handler(args, ctx) {
    const { target } = await ctx.openRead(args.target);
    const rows = await listEntries(target);
    const width = args.trunc === false ? undefined : terminalWidth(ctx.out.stdout);
    await ctx.out.stream(rows, (r) => renderRows(r, width));
    // Like ls(1) on a file it cannot stat: list everything, then fail, so scripts notice.
    const broken = rows.filter((r) => r.problem !== undefined);
    if (broken.length > 0) {
      throw new OcikitError(broken[0]!.problemCode ?? 'IO_ERROR', `${broken.length} of ${rows.length} entries could not be read; ${broken[0]!.digest}: ${broken[0]!.problem}`, {
        digest: broken[0]!.digest,
      });
    }
  },
});

const HEADERS = ['REPOSITORY', 'TAG', 'DIGEST', 'MEDIA TYPE', 'ARTIFACT TYPE', 'PLATFORMS', 'SUBJECT', 'SIZE'];
/** Columns that may be cut to fit a terminal: repository, media type, artifact type, platforms (never tag, digests or size). */
const CUTTABLE = [0, 3, 4, 5];
/** Columns shown on a terminal even when empty: tag, digest, size. */
const KEPT = [1, 2, 7];

/**
 * Full rows, or with `width` (a terminal) as docker images does: short
 * digests, columns nobody filled (all "-") left out, the others cut to fit.
 */
function renderRows(rows: EntryRow[], width: number | undefined): Iterable<string> {
  if (rows.length === 0) return ['(no entries)'];
  const digest = width === undefined ? (d: string) => d : shortDigest;
  const cells = (r: EntryRow): string[] => [
    r.repository ?? '-',
    r.tag ?? '-',
    digest(r.digest),
    width === undefined ? r.mediaType : shortMediaType(r.mediaType),
    r.artifactType ?? '-',
    r.platforms.join(',') || '-',
    r.subject ? digest(r.subject) : '-',
    r.problem ? `${formatBytes(r.size)} (unreadable: ${r.problem})` : formatBytes(r.size),
  ];
  if (width === undefined) return tableLines(HEADERS, rows, cells);
  const shown = HEADERS.map((_, i) => i).filter((i) => KEPT.includes(i) || rows.some((r) => cells(r)[i] !== '-'));
  const pick = <T>(all: T[]): T[] => shown.map((i) => all[i]!);
  const fit: TableFit = { width, shrink: shown.flatMap((i, at) => (CUTTABLE.includes(i) ? [at] : [])) };
  return tableLines(pick(HEADERS), rows, (r) => pick(cells(r)), fit);
}

/** `oci.image.manifest.v1+json` for application/vnd.oci.image.manifest.v1+json: the part that tells media types apart. */
function shortMediaType(m: string): string {
  return m.replace(/^application\//, '').replace(/^vnd\./, '');
}

/** `sha256:abcdef123456`: the algorithm and 12 hex digits, enough to tell entries apart by eye (docker's short IDs). */
function shortDigest(d: string): string {
  const colon = d.indexOf(':');
  return colon < 0 ? d : d.slice(0, colon + 13);
}
