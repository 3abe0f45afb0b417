import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { useTempRoot } from '../../helpers/temp-root';
import { paths, taskFile } from '../../../node-cgi/lib/paths';
import { writeJsonAtomic } from '../../../node-cgi/lib/store';
import { newTaskId, taskRunning, type TaskRecord } from '../../../node-cgi/tasks/task';


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
