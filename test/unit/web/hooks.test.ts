/**
 * useAction, usePoll and useLoad (web/hooks.ts) in happy-dom, with loads
 * the test settles by hand and timers it fires by hand.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { html } from '../../../web/html';
import { useAction, useLoad, usePoll, type Action, type Poll, type PollOptions } from '../../../web/hooks';
import { manualTimers, mount, settle, unmount, useDom } from './dom';

/** A promise the test resolves or rejects when it likes. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// ---------------------------------------------------------------- useAction

const action = suite('useAction');
useDom(action);

function ActionProbe({ fn, out }: { fn: (what: string) => unknown; out: { a: Action<[string]> | null } }) {
  out.a = useAction(fn);
  return html`<span>${out.a.busy ? 'busy' : 'idle'}</span>`;
}

action('should be busy with the arguments of the run until it ends, then done, and resolve true', async () => {
  const d = deferred<void>();
  const seen: string[] = [];
  const out: { a: Action<[string]> | null } = { a: null };
  const el = await mount(html`<${ActionProbe} fn=${(w: string) => (seen.push(w), d.promise)} out=${out} />`);
  assert.is(out.a!.busy, false);
  let ok: boolean | undefined;
  void out.a!.run('stop').then((r) => (ok = r));
  await settle();
  assert.equal(out.a!.running, ['stop']);
  assert.is(el.textContent, 'busy');
  assert.is(out.a!.done, false, 'not done while it runs');
  d.resolve();
  await settle();
  assert.is(ok, true);
  assert.is(out.a!.done, true);
  assert.is(out.a!.running, null);
  assert.is(out.a!.error, null);
  assert.equal(seen, ['stop']);
  await unmount(el);
});

action('should keep the error of a failed run, not be done, resolve false, and clear the error when it runs again', async () => {
  let fail = true;
  const out: { a: Action<[string]> | null } = { a: null };
  const el = await mount(html`<${ActionProbe} fn=${async () => {
    if (fail) throw new Error('guest 101 is running');
  }} out=${out} />`);
  const first = await out.a!.run('x');
  await settle();
  assert.is(first, false);
  assert.is((out.a!.error as Error).message, 'guest 101 is running');
  assert.is(out.a!.busy, false, 'not busy after a failure');
  assert.is(out.a!.done, false);
  fail = false;
  const d = out.a!.run('x');
  await settle();
  assert.is(await d, true);
  assert.is(out.a!.error, null);
  await unmount(el);
});

action('should let the view set and dismiss an error of its own', async () => {
  const out: { a: Action<[string]> | null } = { a: null };
  const el = await mount(html`<${ActionProbe} fn=${async () => undefined} out=${out} />`);
  out.a!.setError(new Error('3 fields are wrong'));
  await settle();
  assert.is((out.a!.error as Error).message, '3 fields are wrong');
  out.a!.setError(null);
  await settle();
  assert.is(out.a!.error, null);
  await unmount(el);
});

action('should run the function of the latest render', async () => {
  const calls: string[] = [];
  const out: { a: Action<[string]> | null } = { a: null };
  const el = await mount(html`<${ActionProbe} fn=${async () => calls.push('old')} out=${out} />`);
  const { render } = await import('preact');
  const { act } = await import('preact/test-utils');
  await act(() => render(html`<${ActionProbe} fn=${async () => calls.push('new')} out=${out} />`, el));
  await out.a!.run('x');
  assert.equal(calls, ['new']);
  await unmount(el);
});

action('should still resolve, false, when its component went away meanwhile', async () => {
  const d = deferred<void>();
  const out: { a: Action<[string]> | null } = { a: null };
  const el = await mount(html`<${ActionProbe} fn=${() => d.promise} out=${out} />`);
  const run = out.a!.run('x');
  await unmount(el);
  d.reject(new Error('gone'));
  assert.is(await run, false);
});

action.run();

// ---------------------------------------------------------------- usePoll

const poll = suite('usePoll');
useDom(poll);

function PollProbe<T>({ load, opts, out }: { load: () => Promise<T>; opts: PollOptions<T>; out: { p: Poll<T> | null } }) {
  out.p = usePoll(load, opts);
  return html`<span>${String(out.p.data)}</span>`;
}

poll('should load at once and again `every` ms after each answer', async () => {
  const timers = manualTimers();
  let n = 0;
  const out: { p: Poll<number> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${async () => ++n} opts=${{ every: 3000, timers }} out=${out} />`);
  await settle();
  assert.is(out.p!.data, 1);
  assert.is(timers.fire(), 3000);
  await settle();
  assert.is(out.p!.data, 2);
  assert.is(el.textContent, '2');
  assert.is(timers.pending.size, 1, 'the next wait is set');
  await unmount(el);
  assert.is(timers.pending.size, 0, 'unmounted: no timer left');
});

poll('should keep the last data when a load fails, show the error, go on, and clear it on success', async () => {
  const timers = manualTimers();
  let fail = false;
  const out: { p: Poll<string> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${async () => {
    if (fail) throw new Error('node unreachable');
    return 'list';
  }} opts=${{ every: 3000, timers }} out=${out} />`);
  await settle();
  fail = true;
  timers.fire();
  await settle();
  assert.is(out.p!.data, 'list');
  assert.is((out.p!.error as Error).message, 'node unreachable');
  assert.is(timers.pending.size, 1, 'still polling after a failure');
  fail = false;
  timers.fire();
  await settle();
  assert.is(out.p!.error, null);
  await unmount(el);
});

poll('should let each answer decide the next wait, and stop on null', async () => {
  const timers = manualTimers();
  const answers = ['running', 'running', 'ok'];
  let n = 0;
  const every = ({ data, error }: { data: string | null; error: unknown }) => (error ? 5000 : data === 'running' ? 1000 : null);
  const out: { p: Poll<string> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${async () => answers[n++]!} opts=${{ every, timers }} out=${out} />`);
  await settle();
  assert.is(timers.fire(), 1000);
  await settle();
  assert.is(timers.fire(), 1000);
  await settle();
  assert.is(out.p!.data, 'ok');
  assert.is(timers.pending.size, 0, 'the task ended: no more loads');
  await unmount(el);
});

poll('should load at once on reload(), resolve when it is in, and start the wait over', async () => {
  const timers = manualTimers();
  let n = 0;
  const out: { p: Poll<number> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${async () => ++n} opts=${{ every: 3000, timers }} out=${out} />`);
  await settle();
  const [firstTimer] = [...timers.pending.keys()];
  await out.p!.reload();
  await settle();
  assert.is(out.p!.data, 2);
  assert.is(timers.pending.size, 1, 'one wait, not two');
  assert.not.ok(timers.pending.has(firstTimer!), 'the old wait is gone');
  await unmount(el);
});

poll('should drop an answer that a later load overtook', async () => {
  const timers = manualTimers();
  const loads: Array<ReturnType<typeof deferred<string>>> = [];
  const out: { p: Poll<string> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${() => {
    const d = deferred<string>();
    loads.push(d);
    return d.promise;
  }} opts=${{ every: 3000, timers }} out=${out} />`);
  void out.p!.reload();
  loads[1]!.resolve('new');
  await settle();
  loads[0]!.resolve('old');
  await settle();
  assert.is(out.p!.data, 'new');
  assert.is(timers.pending.size, 1);
  await unmount(el);
});

poll('should start over when a key changes, keeping the old data on screen meanwhile', async () => {
  const timers = manualTimers();
  const { render } = await import('preact');
  const { act } = await import('preact/test-utils');
  const out: { p: Poll<string> | null } = { p: null };
  const d = deferred<string>();
  const el = await mount(html`<${PollProbe} load=${async () => 'task a'} opts=${{ every: null, keys: ['a'], timers }} out=${out} />`);
  await settle();
  await act(() => render(html`<${PollProbe} load=${() => d.promise} opts=${{ every: null, keys: ['b'], timers }} out=${out} />`, el));
  await settle();
  assert.is(out.p!.data, 'task a');
  d.resolve('task b');
  await settle();
  assert.is(out.p!.data, 'task b');
  await unmount(el);
});

poll('should not set state after unmount when a load ends late', async () => {
  const timers = manualTimers();
  const d = deferred<string>();
  const out: { p: Poll<string> | null } = { p: null };
  const el = await mount(html`<${PollProbe} load=${() => d.promise} opts=${{ every: 1000, timers }} out=${out} />`);
  await unmount(el);
  d.resolve('late');
  await settle();
  assert.is(out.p!.data, null);
  assert.is(timers.pending.size, 0, 'no wait set after unmount');
});

poll.run();

const once = suite('useLoad');
useDom(once);

function LoadProbe({ load, out }: { load: () => Promise<number>; out: { p: Poll<number> | null } }) {
  out.p = useLoad(load);
  return null;
}

once('should load once and again only on reload()', async () => {
  let n = 0;
  const out: { p: Poll<number> | null } = { p: null };
  const el = await mount(html`<${LoadProbe} load=${async () => ++n} out=${out} />`);
  await settle(10);
  assert.is(n, 1);
  assert.is(out.p!.data, 1);
  await out.p!.reload();
  await settle();
  assert.is(out.p!.data, 2);
  await unmount(el);
});

once.run();
