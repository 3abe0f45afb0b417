/**
 * NodeVm.renice on a real process with threads of its own started under
 * nice(1) as `nice:` starts a node's QEMU: every thread takes the niceness,
 * and a node that does not run is left alone. (A process of `node -e` stands
 * in for QEMU: both have several threads.)
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { NodeVm } from '../../build/lab/node-vm';

/** The niceness of each thread of `pid` (/proc/<pid>/task/<tid>/stat, field 19). */
function niceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[16]));
}

const R = suite('NodeVm.renice');

R('should set the niceness of every thread of a process started under nice -n 19', async () => {
  const vm = new NodeVm({ name: 'nicetest', index: 1, boot: { disk: true }, memoryMiB: 64, cpus: 1, accel: 'tcg', webPort: 1, shell: false, runDir: '/nonexistent' });
  const p = spawn('nice', ['-n', '19', process.execPath, '-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  vm.proc = p;
  try {
    // node starts its worker threads at once; wait until there are some.
    for (let i = 0; i < 100 && niceness(p.pid!).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const before = niceness(p.pid!);
    assert.ok(before.length > 1, `${before.length} threads`);
    assert.ok(before.every((n) => n === 19), `started at ${before.join(' ')}`);
    if (process.getuid?.() === 0) {
      assert.is(vm.renice(0), true);
      assert.ok(niceness(p.pid!).every((n) => n === 0), `now ${niceness(p.pid!).join(' ')}`);
    } else {
      assert.is(vm.renice(0), false, 'a lower niceness needs root');
    }
  } finally {
    p.kill('SIGKILL');
  }
});

R('should leave a node alone that does not run', () => {
  const vm = new NodeVm({ name: 'nicetest', index: 1, boot: { disk: true }, memoryMiB: 64, cpus: 1, accel: 'tcg', webPort: 1, shell: false, runDir: '/nonexistent' });
  assert.is(vm.renice(0), true);
});

R.run();
