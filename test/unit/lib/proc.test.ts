import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { pidExists, processAlive, processArgv } from '../../../node-cgi/lib/proc';

/** A pid that no process has: one that just ended. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

const A = suite('processArgv');
A('should read the argv of a running process', () => {
  assert.is(processArgv(process.pid)![0], process.argv0);
});
A('should answer null for a process that is gone', () => {
  assert.is(processArgv(deadPid()), null);
});
A.run();

const L = suite('processAlive');
L('should know this process, and by an argument it has', () => {
  assert.ok(processAlive(process.pid));
  assert.ok(processAlive(process.pid, process.argv[1]!));
});
L('should refuse a pid whose process lacks the mark (a reused pid)', () => {
  assert.not.ok(processAlive(process.pid, 'task-that-is-not-this-process'));
});
L('should refuse a process that is gone', () => {
  assert.not.ok(processAlive(deadPid()));
});
L.run();

const E = suite('pidExists');
E('should see this process and init, not a gone one', () => {
  assert.ok(pidExists(process.pid));
  assert.ok(pidExists(1));
  assert.not.ok(pidExists(deadPid()));
});
E.run();
