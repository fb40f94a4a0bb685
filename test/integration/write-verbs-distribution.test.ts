/** The write verbs against distribution 2.8 (no referrers API: the fallback tag); see write-verbs-steps.ts. */
import { afterFile } from '../helpers/cli.js';
import { describeWriteVerbs } from './write-verbs-steps.js';

describeWriteVerbs('distribution', afterFile());
