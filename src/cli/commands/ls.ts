import { listEntries, OcikitError, type EntryRow } from '../../index.js';
import { tableLines } from '../output.js';
import { defineCommand } from './command.js';

export default defineCommand<{ target: string }>({
  command: 'ls <target>',
  examples: [
    ['$0 ls ./layout', 'list every entry of a layout (a short table on a terminal)'],
    ['$0 ls image.tar --no-trunc', 'full digests and columns, even on a terminal'],
  ],
  describe: 'list every entry of index.json (or every tag of a repository)',
  async handler(args, ctx) {
    const { target } = await ctx.openRead(args.target);
    const rows = await listEntries(target);
    await ctx.out.stream(rows, renderRows);
    // Like ls(1) on a file it cannot stat: list everything, then fail, so scripts notice.
    const broken = rows.filter((r) => r.problem !== undefined);
    if (broken.length > 0) {
      throw new OcikitError(broken[0]!.problemCode ?? 'IO_ERROR', `${broken.length} of ${rows.length} entries could not be read; ${broken[0]!.digest}: ${broken[0]!.problem}`, {
        digest: broken[0]!.digest,
      });
    }
  },
});

function renderRows(rows: EntryRow[]): Iterable<string> {
  if (rows.length === 0) return ['(no entries)'];
  return tableLines(
    ['REPOSITORY', 'TAG', 'DIGEST', 'MEDIA TYPE', 'ARTIFACT TYPE', 'PLATFORMS', 'SUBJECT', 'SIZE'],
    rows,
    (r) => [
      r.repository ?? '-',
      r.tag ?? '-',
      r.digest,
      r.mediaType,
      r.artifactType ?? '-',
      r.platforms.join(',') || '-',
      r.subject ?? '-',
      r.problem ? `${r.size} (unreadable: ${r.problem})` : String(r.size),
    ],
  );
}
