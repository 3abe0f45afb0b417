/**
 * A happy-dom window as the globals a Preact component expects (document,
 * window, localStorage, …), installed for one suite and removed after it,
 * a fake fetch and timers fired by hand: the edges the web units replace.
 * The real edges, the browser's fetch against lighttpd and its clock, run
 * in test/browser.
 *
 *   const dom = useDom(suite);                 // before: install, after: remove
 *   const fake = fakeFetch({ 'GET /api/task': [200, { data: [] }] });
 *   const el = await mount(html`<${TaskPanel} username="admin" />`);
 */
import { Window } from 'happy-dom';
import { render, type ComponentChild } from 'preact';
import { act } from 'preact/test-utils';
import type { Test } from 'uvu';

const GLOBALS = [
  'window', 'document', 'navigator', 'location', 'history', 'localStorage', 'sessionStorage',
  'Node', 'Element', 'HTMLElement', 'HTMLInputElement', 'HTMLSelectElement', 'HTMLFormElement', 'HTMLDialogElement',
  'Event', 'KeyboardEvent', 'MouseEvent', 'FocusEvent', 'InputEvent', 'StorageEvent', 'SubmitEvent',
  'getComputedStyle', 'requestAnimationFrame', 'cancelAnimationFrame', 'fetch',
] as const;

export interface Dom {
  win: Window;
  cleanup(): Promise<void>;
}

export function installDom(opts: { url?: string; languages?: string[] } = {}): Dom {
  const win = new Window({ url: opts.url ?? 'http://node.test/', width: 1024, height: 768 });
  if (opts.languages) {
    Object.defineProperty(win.navigator, 'languages', { value: opts.languages, configurable: true });
    Object.defineProperty(win.navigator, 'language', { value: opts.languages[0], configurable: true });
  }
  const saved = new Map<string, PropertyDescriptor | undefined>();
  const g = globalThis as Record<string, unknown>;
  for (const k of GLOBALS) {
    saved.set(k, Object.getOwnPropertyDescriptor(globalThis, k));
    const v = k === 'window' ? win : k === 'fetch' ? failingFetch : (win as unknown as Record<string, unknown>)[k];
    Object.defineProperty(globalThis, k, {
      value: typeof v === 'function' && !/^[A-Z]/.test(k) ? (v as (...a: unknown[]) => unknown).bind(win) : v,
      configurable: true,
      writable: true,
    });
  }
  return {
    win,
    async cleanup() {
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(globalThis, k, d);
        else delete g[k];
      }
      await win.happyDOM.close();
    },
  };
}

/** Until a test installs a fake, any request is a test bug. */
async function failingFetch(url: string): Promise<Response> {
  throw new Error(`unexpected fetch of ${url}`);
}

/** Install a DOM before the suite and remove it after. */
export function useDom(suite: Test, opts?: Parameters<typeof installDom>[0]): { current: Dom | null } {
  const ref: { current: Dom | null } = { current: null };
  suite.before(() => {
    ref.current = installDom(opts);
  });
  suite.after(async () => {
    await ref.current?.cleanup();
    ref.current = null;
  });
  return ref;
}

export interface FakeCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export type FakeAnswer = [status: number, body: unknown] | ((call: FakeCall) => [number, unknown] | Promise<[number, unknown]>);

/**
 * A fetch that answers by "METHOD /path" (query ignored) from a table, and
 * records every call. An unknown route answers 404 like the node does.
 */
export function fakeFetch(routes: Record<string, FakeAnswer>) {
  const calls: FakeCall[] = [];
  const fn = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const method = (init.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : init.body;
    const call = { method, url, headers, body };
    calls.push(call);
    const answer = routes[`${method} ${url.split('?')[0]}`];
    const [status, json] = typeof answer === 'function' ? await answer(call) : (answer ?? [404, { error: { code: 'not_found', message: `no route ${url}` } }]);
    const text = typeof json === 'string' ? json : JSON.stringify(json);
    return new Response(status === 204 ? null : text, { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fn, calls, routes };
}

/** A fakeFetch() installed as the fetch of the globals and of `dom`'s window; the fake, for its calls. */
export function serveFetch(dom: { current: Dom | null }, routes: Record<string, FakeAnswer>) {
  const fake = fakeFetch(routes);
  (globalThis as { fetch: unknown }).fetch = fake.fetch;
  dom.current!.win.fetch = fake.fetch as never;
  return fake;
}

/** Render into a fresh container in the body, with effects flushed. */
export async function mount(vnode: ComponentChild): Promise<HTMLElement> {
  const el = document.createElement('div');
  document.body.appendChild(el);
  await act(() => render(vnode, el));
  return el;
}

export async function unmount(el: HTMLElement): Promise<void> {
  await act(() => render(null, el));
  el.remove();
}

/** Let pending promises and Preact's queued renders and effects run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
  }
}

/**
 * Settle until `check` holds, for effects Preact runs after the next frame
 * (a render that happened outside act(), e.g. after a promise that resolved
 * at once); throws `what` after `timeoutMs`.
 */
export async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
  }
}

/** Type into an input as a user does (value, then an input event). */
export async function typeInto(input: Element | null, value: string): Promise<void> {
  if (!input) throw new Error('no input to type into');
  await act(() => {
    (input as HTMLInputElement).value = value;
    input.dispatchEvent(new (globalThis as any).Event('input', { bubbles: true }));
  });
}

/** Tick or untick a checkbox as a user does (checked, then a change event). */
export async function setChecked(box: Element | null, on: boolean): Promise<void> {
  if (!box) throw new Error('no checkbox');
  (box as HTMLInputElement).checked = on;
  box.dispatchEvent(new (globalThis as any).Event('change', { bubbles: true }));
  await settle();
}

export async function click(el: Element | null): Promise<void> {
  if (!el) throw new Error('nothing to click');
  await act(() => (el as HTMLElement).click());
}

export async function key(el: Element | null, keyName: string, opts: { shiftKey?: boolean } = {}): Promise<void> {
  if (!el) throw new Error('no element for the key');
  await act(() => {
    el.dispatchEvent(new (globalThis as any).KeyboardEvent('keydown', { key: keyName, bubbles: true, cancelable: true, ...opts }));
  });
}

/** The visible text of an element, whitespace folded. */
export const text = (el: Element | null): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();

/** Timers the test fires by hand (web/hooks.ts Timers). */
export function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    pending,
    setTimeout: (fn: () => void, ms: number) => {
      pending.set(next, { fn, ms });
      return next++;
    },
    clearTimeout: (h: unknown) => void pending.delete(h as number),
    /** Fire the only pending timer; returns its delay. */
    fire(): number {
      if (pending.size !== 1) throw new Error(`${pending.size} timers pending, not exactly one`);
      const [id, t] = [...pending][0]!;
      pending.delete(id);
      t.fn();
      return t.ms;
    },
  };
}
