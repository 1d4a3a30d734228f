// Preloaded (`NODE_OPTIONS=--require …`) into a child of helper_fsync.test.ts, where it runs in the main thread
// and in every worker thread (the fs store's helper threads included, which the test's injected file
// systems never reach). It records, in the order they return, the fsyncs, renames, links and creations
// of the process's threads into the file named by TFJS_CKPT_FS_TRACE, one line each:
// `<thread id>\t<op>\t<path>[\t<second path>]`, paths absolute. O_APPEND writes of one short line are
// not interleaved, so the file's order is the order in which the calls returned.
'use strict';
const fs = require('node:fs');
const { resolve } = require('node:path');
const { syncBuiltinESMExports } = require('node:module');
const { threadId } = require('node:worker_threads');

const journalPath = process.env.TFJS_CKPT_FS_TRACE;
if (journalPath) {
  const original = { ...fs };
  const journal = original.openSync(journalPath, 'a');
  const pathOfFd = new Map();
  const record = (...fields) => original.writeSync(journal, `${threadId}\t${fields.join('\t')}\n`);
  const pathOf = (fd) => pathOfFd.get(fd) ?? `fd:${fd}`;

  fs.openSync = function (path, ...rest) {
    const fd = original.openSync.call(this, path, ...rest);
    pathOfFd.set(fd, resolve(String(path)));
    const flags = rest[0];
    if (typeof flags === 'string' && /[wax]/.test(flags)) record('create', resolve(String(path)));
    return fd;
  };
  fs.closeSync = function (fd) {
    pathOfFd.delete(fd);
    return original.closeSync.call(this, fd);
  };
  fs.fsyncSync = function (fd) {
    original.fsyncSync.call(this, fd);
    record('fsync', pathOf(fd));
  };
  fs.fdatasyncSync = function (fd) {
    original.fdatasyncSync.call(this, fd);
    record('fsync', pathOf(fd));
  };
  fs.fsync = function (fd, callback) {
    const path = pathOf(fd);
    return original.fsync.call(this, fd, (error) => {
      if (!error) record('fsync', path);
      callback(error);
    });
  };
  fs.renameSync = function (from, to) {
    original.renameSync.call(this, from, to);
    record('rename', resolve(String(from)), resolve(String(to)));
  };
  fs.linkSync = function (from, to) {
    original.linkSync.call(this, from, to);
    record('link', resolve(String(from)), resolve(String(to)));
  };
  fs.mkdirSync = function (path, options) {
    const made = original.mkdirSync.call(this, path, options);
    // (recursive: `made` names the first folder created, undefined when all were there)
    if (!options?.recursive || made !== undefined) record('create', resolve(String(path)));
    return made;
  };
  // The promise API's steps that name paths (a FileHandle's own calls are not seen).
  const fsp = require('node:fs/promises');
  for (const [op, name] of [['rename', 'rename'], ['link', 'link'], ['mkdir', 'create']]) {
    const call = fsp[op];
    fsp[op] = async function (path, second, ...rest) {
      const result = await call.call(this, path, second, ...rest);
      // (as mkdirSync above: a recursive mkdir that created nothing is not recorded)
      if (op === 'mkdir') {
        if (!second?.recursive || result !== undefined) record(name, resolve(String(path)));
      } else record(name, resolve(String(path)), resolve(String(second)));
      return result;
    };
  }
  // The ESM views of node:fs and node:fs/promises (`import * as fs`) see these only after this call.
  syncBuiltinESMExports();
}
