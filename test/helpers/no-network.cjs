/**
 * Preloaded into a spawned CLI (`node --require`, through NODE_OPTIONS) by
 * tests that must prove ocikit stays offline: every socket connect to a host
 * that is not loopback is refused before it leaves the machine and recorded,
 * one line per attempt, in the file named by OCIKIT_TEST_NET_LOG. A test then
 * fails when that file has any line. Unix sockets and loopback are allowed
 * (a test registry on 127.0.0.1). Names are refused unless `localhost`: a
 * lookup of any other name would itself be traffic.
 */
'use strict';
const net = require('node:net');
const fs = require('node:fs');

const log = process.env.OCIKIT_TEST_NET_LOG;

function isLoopback(host) {
  if (host === undefined || host === null || host === '') return true; // node's default: localhost
  const h = String(host).replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host a Socket#connect call is for (options object, or port[, host]); undefined for a path (Unix socket). */
function hostOf(args) {
  let a = args[0];
  if (Array.isArray(a)) a = a[0]; // node's internal normalized form: [options, callback]
  if (a && typeof a === 'object') return a.path !== undefined ? { unix: true } : { host: a.host };
  if (typeof a === 'string' && !/^\d+$/.test(a)) return { unix: true };
  return { host: typeof args[1] === 'string' ? args[1] : undefined };
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const target = hostOf(args);
  if (!target.unix && !isLoopback(target.host)) {
    const line = `${new Date().toISOString()} refused connect to ${target.host} (pid ${process.pid})\n`;
    if (log) fs.appendFileSync(log, line);
    const err = Object.assign(new Error(`network access to ${target.host} refused by the test's offline guard`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
