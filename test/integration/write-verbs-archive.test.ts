/**
 * The write verbs on a layout archive (see write-verbs-steps.ts): the same
 * walk as on a layout directory, each step rewriting the archive. What only
 * an archive has (a new archive per edit, compression kept, kill and race
 * safety): archive-edit.test.ts and archive-edit-safety.test.ts.
 */
import { afterFile } from '../helpers/cli.js';
import { describeWriteVerbs } from './write-verbs-steps.js';

describeWriteVerbs('archive', afterFile());
