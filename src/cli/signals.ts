/**
 * Ctrl-C (SIGINT) and SIGTERM stop a command at once, before any `finally`
 * could remove what it was writing: a partial archive beside its destination,
 * a spool of several GiB in the temp directory. The handler removes the temp
 * files the command still has open (the library tracks them,
 * fs/temp-files.ts) and its write leases (fs/lease.ts), keeps blob downloads
 * in progress as partial files the next pull resumes
 * (fs/partial-download.ts), then exits with 128 + the signal's number (130, 143),
 * the status a shell reports for a program the signal killed.
 *
 * Locks are still released: fs/lock.ts removes the locks this process holds
 * in an exit hook, which `process.exit` runs (and a lock left by a SIGKILL
 * names a dead owner, so the next writer takes it over at once).
 */
import { constants } from 'node:os';
import { releaseLeasesSync, removeTrackedTempFiles } from '../index.js';

let installed = false;

export function exitOnSignalsRemovingTempFiles(stderr: NodeJS.WritableStream): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    const { removed, kept } = removeTrackedTempFiles();
    releaseLeasesSync();
    const notes = [
      ...(removed > 0 ? [`removed ${removed} temporary file${removed === 1 ? '' : 's'}`] : []),
      ...(kept > 0 ? [`kept ${kept} partial download${kept === 1 ? '' : 's'} to resume`] : []),
    ];
    stderr.write(`ocikit: stopped by ${signal}${notes.length > 0 ? `; ${notes.join(', ')}` : ''}\n`);
    process.exit(128 + constants.signals[signal]);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
