/**
 * The two things nearly every view does with the node, as hooks:
 *
 *   useAction(fn)   a button or form that sends something: busy while it
 *                   runs, done once it worked, its error kept for an
 *                   ErrorBanner, both cleared when it runs again.
 *   usePoll(load)   data loaded now and again after each answer (every N ms,
 *                   or as the answer says); useLoad(load) loads once. Both
 *                   keep the last data while a later load fails, and reload()
 *                   loads at once.
 *
 *   const save = useAction(async () => { await client.vms.update(vmid, body); setSaved(true); });
 *   html`<form onSubmit=${(e: Event) => (e.preventDefault(), void save.run())}>
 *          <${ErrorBanner} error=${save.error} />
 *          <button disabled=${save.busy}>…</button></form>`
 *
 *   const { data, error, reload } = usePoll(() => client.vms.get(vmid), { every: POLL_MS, keys: [vmid] });
 *
 * Neither sets state after its component is gone, and a load that a later
 * one overtook (reload(), new keys) is dropped, so an old answer never
 * replaces a newer one.
 *
 * Data many parts of the page show at once (the task list, the cluster)
 * comes from one shared poller, which polls only while someone listens:
 *
 *   export const taskPoller = createSharedPoller(() => client.tasks.list(100), pollDelayMs, REAL_TIMERS);
 *   const { data, error } = useShared(taskPoller);
 */
import { useEffect, useRef, useState } from 'preact/hooks';

/** The timer functions a poller uses (tests pass fake ones). */
export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
}

export const REAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface Action<A extends unknown[]> {
  /** Run it; resolves true when it succeeded, false when it failed (the error is in `error`). */
  run: (...args: A) => Promise<boolean>;
  /** The arguments of the run in progress (which of several buttons), or null. */
  running: A | null;
  busy: boolean;
  /** The last run succeeded ("Saved"); false again when the next one starts. */
  done: boolean;
  error: unknown;
  /** Show an error of one's own, or dismiss one (null). */
  setError: (e: unknown) => void;
}

/** `fn`'s latest version, run with busy and error state. */
export function useAction<A extends unknown[]>(fn: (...args: A) => unknown): Action<A> {
  const [running, setRunning] = useState<A | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const live = useLive();
  const run = async (...args: A): Promise<boolean> => {
    setRunning(args);
    setDone(false);
    setError(null);
    try {
      await fnRef.current(...args);
      if (live.current) setDone(true);
      return true;
    } catch (e) {
      if (live.current) setError(e);
      return false;
    } finally {
      if (live.current) setRunning(null);
    }
  };
  return { run, running, busy: running !== null, done, error, setError };
}

export interface Loaded<T> {
  /** The last data loaded; null until the first load succeeds. */
  data: T | null;
  /** The last load's error; null once a load succeeds. */
  error: unknown;
}

export interface Poll<T> extends Loaded<T> {
  /** Load now (the wait starts over); resolves when that load is in. */
  reload: () => Promise<void>;
}

export interface PollOptions<T> {
  /** Wait after each answer before the next load, in ms; decided per answer by a function; null: load once. */
  every: number | null | ((last: Loaded<T>) => number | null);
  /** Values that start it over with a fresh load (an id from the route). */
  keys?: readonly unknown[];
  timers?: Timers;
}

/** Load with `load` now and again as `every` says, while the component is mounted. */
export function usePoll<T>(load: () => Promise<T>, opts: PollOptions<T>): Poll<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null });
  const latest = useRef({ load, every: opts.every, data: null as T | null });
  latest.current.load = load;
  latest.current.every = opts.every;
  const reload = useRef<() => Promise<void>>(() => Promise.resolve());
  const timers = opts.timers ?? REAL_TIMERS;
  useEffect(() => {
    let live = true;
    let timer: unknown = null;
    let seq = 0;
    const tick = async (): Promise<void> => {
      const mine = ++seq;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      let next: Loaded<T>;
      try {
        next = { data: await latest.current.load(), error: null };
      } catch (error) {
        next = { data: latest.current.data, error };
      }
      if (!live || mine !== seq) return;
      latest.current.data = next.data;
      setState(next);
      const every = latest.current.every;
      const ms = typeof every === 'function' ? every(next) : every;
      if (ms !== null) timer = timers.setTimeout(() => void tick(), ms);
    };
    reload.current = tick;
    void tick();
    return () => {
      live = false;
      if (timer !== null) timers.clearTimeout(timer);
    };
  }, opts.keys ?? []);
  return { ...state, reload: () => reload.current() };
}

/** Load once (again when `keys` change, or on reload()). */
export function useLoad<T>(load: () => Promise<T>, keys: readonly unknown[] = []): Poll<T> {
  return usePoll(load, { every: null, keys });
}

export type SharedPoller<T> = ReturnType<typeof createSharedPoller<T>>;

/**
 * One poller of `load` for every listener: the first subscriber starts it,
 * the last one gone stops it (and forgets the data); `delayMs` says after
 * each answer how long to wait. Polls never overlap: a refresh while one
 * is in flight runs once it is in.
 */
export function createSharedPoller<T>(load: () => Promise<T>, delayMs: (data: T | null) => number, timers: Timers) {
  let state: Loaded<T> = { data: null, error: null };
  const listeners = new Set<(s: Loaded<T>) => void>();
  let timer: unknown = null;
  let inFlight = false;
  let again = false;

  const schedule = (ms: number) => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = listeners.size > 0 ? timers.setTimeout(poll, ms) : null;
  };

  async function poll(): Promise<void> {
    timer = null;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      state = { data: await load(), error: null };
    } catch (error) {
      state = { data: state.data, error };
    }
    inFlight = false;
    for (const fn of listeners) fn(state);
    if (again) {
      again = false;
      return poll();
    }
    schedule(delayMs(state.data));
  }

  return {
    state: () => state,
    /** Poll now (something changed, or the user asked). */
    refresh: (): Promise<void> => (listeners.size > 0 ? poll() : Promise.resolve()),
    subscribe(fn: (s: Loaded<T>) => void): () => void {
      listeners.add(fn);
      if (listeners.size === 1) void poll();
      return () => {
        listeners.delete(fn);
        if (listeners.size === 0) {
          if (timer !== null) timers.clearTimeout(timer);
          timer = null;
          state = { data: null, error: null };
        }
      };
    },
  };
}

/** A shared poller's data; it polls while mounted. */
export function useShared<T>(poller: SharedPoller<T>): Loaded<T> {
  const [s, setS] = useState<Loaded<T>>(poller.state());
  useEffect(() => {
    const off = poller.subscribe(setS);
    // A poll may have ended between the first render and now.
    setS(poller.state());
    return off;
  }, [poller]);
  return s;
}

/** A ref that is true while the component is mounted. */
function useLive(): { current: boolean } {
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);
  return live;
}
