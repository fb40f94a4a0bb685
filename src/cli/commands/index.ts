/** Every CLI command, in the order `--help` lists them. */
import type { CommandSpec } from './command.js';
import init from './init.js';
import ls from './ls.js';
import tags from './tags.js';
import resolve from './resolve.js';
import manifest from './manifest.js';
import index from './index-create.js';
import blob from './blob.js';
import { tagCommand, untagCommand } from './tag.js';
import attach from './attach.js';
import artifact from './artifact.js';
import referrers from './referrers.js';
import discover from './discover.js';
import gc from './gc.js';
import copy from './copy.js';
import pack from './pack.js';
import unpack from './unpack.js';
import serve from './serve.js';
import push from './push.js';
import pull from './pull.js';
import verify from './verify.js';
import inspect from './inspect.js';
import diff from './diff.js';
import repo from './repo.js';
import { loginCommand, logoutCommand } from './login.js';
import versionCommand from './version.js';

export const commands: CommandSpec[] = [init, ls, tags, resolve, manifest, index, blob, tagCommand, untagCommand, attach, artifact, referrers, discover, gc, copy, pack, unpack, serve, push, pull, verify, inspect, diff, repo, loginCommand, logoutCommand, versionCommand];
