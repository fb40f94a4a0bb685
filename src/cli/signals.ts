/**
 * Ctrl-C (SIGINT) and SIGTERM stop a command at once, before any `finally`
 * could remove what it was writing: a partial archive beside its destination,
 * a spool of several GiB in the temp directory. The handler removes the temp
 * files the command still has open (the library tracks them,
 * fs/temp-files.ts), then exits with 128 + the signal's number (130, 143),
 * the status a shell reports for a program the signal killed.
 *
 * Locks are still released: fs/lock.ts removes the locks this process holds
 * in an exit hook, which `process.exit` runs (and a lock left by a SIGKILL
 * names a dead owner, so the next writer takes it over at once).
 */
import { constants } from 'node:os';
import { removeTrackedTempFiles } from '../index.js';

let installed = false;

export function exitOnSignalsRemovingTempFiles(stderr: NodeJS.WritableStream): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    const removed = removeTrackedTempFiles();
    stderr.write(`ocikit: stopped by ${signal}${removed > 0 ? `; removed ${removed} temporary file${removed === 1 ? '' : 's'}` : ''}\n`);
    process.exit(128 + constants.signals[signal]);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
