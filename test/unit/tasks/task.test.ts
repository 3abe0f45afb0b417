import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { useTempRoot } from '../../helpers/temp-root';
import { paths, taskFile } from '../../../node-cgi/lib/paths';
import { writeJsonAtomic } from '../../../node-cgi/lib/store';
import { newTaskId, readTask, runTask, taskRunning, type TaskRecord } from '../../../node-cgi/tasks/task';


function record(id: string, status: TaskRecord['status'], pid: number | null): void {
  mkdirSync(paths().tasks, { recursive: true });
  const rec: TaskRecord = {
    id, kind: 'disk-check', object: '/vms/101', user: 'root', node: 'n', params: {}, pid, start: Date.now() - 60_000, end: null,
    status, progress: 0, message: 'x',
  };
  writeJsonAtomic(taskFile(id, 'json'), rec);
}

const R = suite('taskRunning');
useTempRoot(R);
let holder: ChildProcess | undefined;
R.after(() => {
  holder?.kill('SIGKILL');
});
R('should say no for no id and for a task without a record', () => {
  assert.not.ok(taskRunning(undefined));
  assert.not.ok(taskRunning(newTaskId('backup', '/vms/101')));
});
R('should say no for a finished task', () => {
  const id = newTaskId('backup', '/vms/102');
  record(id, 'ok', null);
  assert.not.ok(taskRunning(id));
});
R('should say no for a running task whose pid is another program now', () => {
  const id = newTaskId('backup', '/vms/103');
  record(id, 'running', process.pid);
  assert.not.ok(taskRunning(id));
});
R('should say yes while the task\'s own process runs', () => {
  const id = newTaskId('backup', '/vms/104');
  holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', id], { stdio: 'ignore' });
  record(id, 'running', holder.pid!);
  assert.ok(taskRunning(id));
});
R.run();

const T = suite('runTask');
useTempRoot(T);
T('should record each part\'s state, the last one of each when the task ends', async () => {
  const id = newTaskId('iso-distribute', '/iso');
  record(id, 'running', null);
  let midway: TaskRecord['parts'];
  const done = await runTask(id, {
    'disk-check': async (t) => {
      t.part('n2', { status: 'running', message: 'a.iso' });
      t.part('n3', {});
      midway = readTask(id).parts; // a new part and a changed status are written at once
      t.part('n2', { progress: 40.4, message: 'a.iso: 40 of 100' });
      t.part('n2', { status: 'ok', progress: 100, message: 'copied' });
      t.part('n3', { status: 'failed', message: 'node n3 does not answer' });
      return 'done';
    },
  });
  assert.equal(midway, [
    { name: 'n2', status: 'running', progress: 0, message: 'a.iso' },
    { name: 'n3', status: 'waiting', progress: 0, message: '' },
  ]);
  assert.is(done.status, 'ok');
  assert.equal(done.parts, [
    { name: 'n2', status: 'ok', progress: 100, message: 'copied' },
    { name: 'n3', status: 'failed', progress: 0, message: 'node n3 does not answer' },
  ]);
});
T('should keep the parts of a task that fails', async () => {
  const id = newTaskId('iso-distribute', '/iso');
  record(id, 'running', null);
  const done = await runTask(id, {
    'disk-check': async (t) => {
      t.part('n2', { status: 'failed', message: 'gone' });
      throw new Error('not on n2');
    },
  });
  assert.is(done.status, 'failed');
  assert.is(done.message, 'not on n2');
  assert.equal(done.parts, [{ name: 'n2', status: 'failed', progress: 0, message: 'gone' }]);
});
T('should write no parts for a task that has none', async () => {
  const id = newTaskId('disk-check', '/vms/101');
  record(id, 'running', null);
  const done = await runTask(id, { 'disk-check': async () => 'fine' });
  assert.is(done.parts, undefined);
});
T.run();
