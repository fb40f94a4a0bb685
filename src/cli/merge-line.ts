/** The line copy, pack and pull print when they wrote into an archive that was already there. */
import type { ArchiveMergeResult } from '../index.js';

export function mergeLine(file: string, m: ArchiveMergeResult): string {
  const entries = `${m.earlierEntries} earlier entr${m.earlierEntries === 1 ? 'y' : 'ies'}`;
  const moved = m.movedTags.length > 0 ? `; moved tag${m.movedTags.length === 1 ? '' : 's'} ${m.movedTags.join(', ')} to the new content` : '';
  return `merged into the existing archive ${file}: kept its ${entries}${moved}`;
}
