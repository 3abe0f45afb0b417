/** Data for the web units, shaped like the node's answers. */
import type { Task } from '../../../web/tasks';

/** A task record as GET /api/task lists it (running unless told otherwise). */
export function task(over: Partial<Task> & { id: string }): Task {
  return {
    kind: 'disk-check',
    object: '/vms/101',
    user: 'admin',
    node: 'pve1',
    params: {},
    pid: 1,
    start: 1_000_000,
    end: null,
    status: 'running',
    progress: 0,
    message: 'starting',
    ...over,
  };
}
