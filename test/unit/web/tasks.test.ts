import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  acknowledge,
  acknowledged,
  createTaskPoller,
  DONE_VISIBLE_MS,
  panelTasks,
  pollDelayMs,
  POLL_IDLE_MS,
  POLL_RUNNING_MS,
  taskKindLabel,
  type Task,
} from '../../../web/tasks';
import { setLang } from '../../../web/i18n';
import { ApiError } from '../../../web/api';
import { LOG_POLL_MS, logPollMs, TaskParts } from '../../../web/views/tasks';
import { html } from '../../../web/html';
import { manualTimers, mount, text, unmount, useDom } from './dom';
import { task } from './fixtures';

const delay = suite('pollDelayMs');

const DELAYS: Array<[Task[] | null, number, string]> = [
  [null, POLL_IDLE_MS, 'nothing loaded yet'],
  [[], POLL_IDLE_MS, 'no tasks'],
  [[task({ id: 'a', status: 'ok' }), task({ id: 'b', status: 'failed' })], POLL_IDLE_MS, 'only finished tasks'],
  [[task({ id: 'a', status: 'ok' }), task({ id: 'b' })], POLL_RUNNING_MS, 'one task runs'],
];

for (const [tasks, want, why] of DELAYS) {
  delay(`should wait ${want} ms with ${why}`, () => assert.is(pollDelayMs(tasks), want));
}

delay('should poll faster while a task runs than when every task is done', () => {
  assert.ok(pollDelayMs([task({ id: 'a' })]) < pollDelayMs([task({ id: 'a', status: 'ok' })]));
});

delay.run();

const panel = suite('panelTasks');

panel('should split tasks into running, just done and unacknowledged failures', () => {
  const now = 5_000_000;
  const tasks = [
    task({ id: 'run' }),
    task({ id: 'done-now', status: 'ok', end: now - 1000 }),
    task({ id: 'done-long-ago', status: 'ok', end: now - DONE_VISIBLE_MS }),
    task({ id: 'failed', status: 'failed', end: now - 99_999_999 }),
    task({ id: 'failed-read', status: 'failed', end: now }),
  ];
  const r = panelTasks(tasks, new Set(['failed-read', 'run']), now);
  assert.equal(r.running.map((x) => x.id), ['run'], 'an acknowledgement does not hide a running task');
  assert.equal(r.done.map((x) => x.id), ['done-now']);
  assert.equal(r.failed.map((x) => x.id), ['failed'], 'a failure stays however old, until acknowledged');
});

panel.run();

const kinds = suite('taskKindLabel');

kinds('should name a known kind from the catalogue and show an unknown kind as it is', () => {
  setLang('en');
  assert.is(taskKindLabel('disk-check'), 'Disk check');
  assert.is(taskKindLabel('frobnicate'), 'frobnicate');
});

kinds.run();

const flush = () => new Promise((r) => setTimeout(r, 0));

const poller = suite('createTaskPoller');

poller('should poll only while someone listens, at 2 s while a task runs and 10 s otherwise', async () => {
  const timers = manualTimers();
  const answers: Task[][] = [[task({ id: 'a' })], [task({ id: 'a', status: 'ok', end: 1 })]];
  let loads = 0;
  const p = createTaskPoller(async () => answers[Math.min(loads++, 1)]!, timers);
  assert.is(loads, 0, 'nothing before a listener');
  const seen: Array<Task[] | null> = [];
  const off = p.subscribe((s) => seen.push(s.data));
  await flush();
  assert.is(loads, 1);
  assert.is([...timers.pending.values()][0]!.ms, POLL_RUNNING_MS);
  timers.fire();
  await flush();
  assert.is(loads, 2);
  assert.is([...timers.pending.values()][0]!.ms, POLL_IDLE_MS);
  assert.equal(seen.map((x) => x?.[0]?.status), ['running', 'ok']);
  off();
  assert.is(timers.pending.size, 0, 'the last listener gone: no timer');
});

poller('should keep the last list and report the error when a poll fails, then go on', async () => {
  const timers = manualTimers();
  let fail = false;
  const p = createTaskPoller(async () => {
    if (fail) throw Object.assign(new Error('down'), { status: 0 });
    return [task({ id: 'a', status: 'ok' })];
  }, timers);
  const off = p.subscribe(() => undefined);
  await flush();
  fail = true;
  timers.fire();
  await flush();
  assert.is(p.state().data!.length, 1);
  assert.is((p.state().error as Error).message, 'down');
  assert.is(timers.pending.size, 1, 'still polling');
  off();
});

poller('should poll at once on refresh and not overlap polls', async () => {
  const timers = manualTimers();
  let loads = 0;
  let release: () => void = () => undefined;
  const p = createTaskPoller(
    () =>
      new Promise<Task[]>((res) => {
        loads++;
        release = () => res([]);
      }),
    timers,
  );
  const off = p.subscribe(() => undefined);
  void p.refresh();
  void p.refresh();
  assert.is(loads, 1, 'a poll in flight absorbs refreshes');
  release();
  await flush();
  assert.is(loads, 2, 'one more poll after the one in flight');
  release();
  await flush();
  assert.is(timers.pending.size, 1);
  off();
});

poller.run();

const acks = suite('acknowledge');
useDom(acks);

acks('should keep acknowledgements per user in localStorage', () => {
  acknowledge('anna', ['t1']);
  acknowledge('anna', ['t2']);
  acknowledge('bob', ['t9']);
  assert.equal([...acknowledged('anna')].sort(), ['t1', 't2']);
  assert.equal([...acknowledged('bob')], ['t9']);
  assert.equal(JSON.parse(localStorage.getItem('ramvm.ack.anna')!).sort(), ['t1', 't2']);
});

acks('should drop acknowledgements of tasks the node no longer lists', () => {
  acknowledge('carl', ['old1', 'old2']);
  acknowledge('carl', ['new'], ['new', 'old2', 'other']);
  assert.equal([...acknowledged('carl')].sort(), ['new', 'old2']);
});

acks('should read damaged storage as nothing acknowledged', () => {
  localStorage.setItem('ramvm.ack.dora', '{oops');
  assert.equal([...acknowledged('dora')], []);
  localStorage.setItem('ramvm.ack.dora', '{"a":1}');
  assert.equal([...acknowledged('dora')], []);
});

acks.run();

const logPoll = suite('logPollMs (views/tasks.ts)');

const LOG_POLLS: Array<[string, Parameters<typeof logPollMs>[0], number | null]> = [
  ['a running task: every second', { data: [task({ id: 'a' }), {}], error: null }, LOG_POLL_MS],
  ['an ended task: no more', { data: [task({ id: 'a', status: 'ok', end: 2 }), {}], error: null }, null],
  ['the node out of reach: five times slower', { data: [task({ id: 'a' }), {}], error: new ApiError(0, 'network', 'down') }, LOG_POLL_MS * 5],
  ['a node error (502): five times slower', { data: null, error: new ApiError(502, 'bad_gateway', 'x') }, LOG_POLL_MS * 5],
  ['no such task (404): no more', { data: null, error: new ApiError(404, 'not_found', 'no task') }, null],
];
for (const [why, last, want] of LOG_POLLS) {
  logPoll(`should wait ${want} ms for ${why}`, () => assert.is(logPollMs(last), want));
}

logPoll.run();

const parts = suite('TaskParts (views/tasks.ts)');
useDom(parts);
parts.before(() => setLang('en'));

parts('should show each part with its status, a progress bar while it is not done, and its message', async () => {
  const t = task({
    id: 'n1:20261125T101500Z-iso-distribute-iso-a1b2c3',
    kind: 'iso-distribute',
    object: '/iso',
    parts: [
      { name: 'n2', status: 'running', progress: 40, message: 'debian.iso: 240.0 MiB of 600.0 MiB' },
      { name: 'n3', status: 'failed', progress: 0, message: 'node n3 does not answer' },
      { name: 'n4', status: 'waiting', progress: 0, message: 'waiting' },
    ],
  });
  const el = await mount(html`<${TaskParts} task=${t} />`);
  const rows = [...el.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((c) => text(c)).concat(text(r.querySelector('.task-message'))));
  assert.equal(rows, [
    ['n2', 'Running', 'debian.iso: 240.0 MiB of 600.0 MiB'],
    ['n3', 'Failed', 'node n3 does not answer'],
    ['n4', 'Waiting', 'waiting'],
  ]);
  const bars = [...el.querySelectorAll('[role="progressbar"]')].map((b) => [b.getAttribute('aria-label'), b.getAttribute('aria-valuenow')]);
  assert.equal(bars, [['ISO images to the nodes · /iso: n2', '40'], ['ISO images to the nodes · /iso: n4', '0']]);
  assert.ok(el.querySelector('tbody tr:nth-child(2) .text-failed'), 'a failed part\'s message is marked');
  await unmount(el);
});

parts('should show nothing for a task without parts', async () => {
  const el = await mount(html`<div><${TaskParts} task=${task({ id: 'a' })} /></div>`);
  assert.is(el.querySelector('table'), null);
  await unmount(el);
});

parts.run();
