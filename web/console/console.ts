/**
 * The console of one guest: its screen through noVNC over the node's
 * websocket /api/console/<vmid> (the ticket cookie authenticates it, the
 * node checks the Origin), with a toolbar: Ctrl+Alt+Del and other key
 * combinations, text typed into the guest key by key, fit-to-window or
 * 1:1, full screen, a window of its own, reconnect.
 *
 *   html`<${Console} vmid=${101} />`              on the guest page
 *   html`<${Console} vmid=${101} standalone />`   the #/console/101 view, a window of its own
 *
 * Every state says what is going on: connecting; connected; the guest not
 * running (the console then checks every NOT_RUNNING_POLL_MS and connects
 * when it starts); disconnected with the node's reason and close code; or
 * refused (no permission, no such guest) as an error. The screen takes
 * the keyboard while it has the focus; Ctrl+Alt+Shift gives the focus back
 * to the toolbar, so keyboard users are never caught in it.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';
import { ErrorBanner } from '../components/error-banner';
import { StatusBadge } from '../components/status-badge';
import { COMBOS, comboStrokes, KEYS, typeStrokes, untypable, type KeyName, type KeyStroke } from './keys';
import { keysymsOnly, loadRfb, needsKeysymsOnly, type Rfb, type RfbConstructor } from './rfb';
import { renewSession } from './session';
import { closeText, probeConsole, type Probe } from './status';
import { urls } from '../client';

/** While the guest does not run, check this often whether it has started. */
export const NOT_RUNNING_POLL_MS = 5000;
/** Pause between two typed characters: the guest's keyboard buffer is small. */
export const TYPE_CHAR_DELAY_MS = 15;
/** Longest text typed in one go, in characters. */
export const TYPE_MAX_CHARS = 10_000;
/** localStorage key of the fit-to-window choice. */
const SCALE_STORAGE_KEY = 'ramvm.console.scale';
/** The websocket subprotocol of noVNC and the node's bridge. */
const WS_PROTOCOLS = ['binary'];

/** The edges of the console; unit tests replace them. */
export interface ConsoleDeps {
  loadRfb: () => Promise<RfbConstructor>;
  openSocket: (url: string) => WebSocket;
  probe: (vmid: number | string) => Promise<Probe>;
  openWindow: (url: string, name: string, features: string) => unknown;
  wait: (ms: number) => Promise<void>;
  /** Renew the ticket when due (the websocket carries the cookie as it is). */
  renew: () => Promise<void>;
}

const DEFAULT_DEPS: ConsoleDeps = {
  loadRfb,
  openSocket: (url) => new WebSocket(url, WS_PROTOCOLS),
  probe: (vmid) => probeConsole(vmid),
  openWindow: (url, name, features) => window.open(url, name, features),
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  renew: () => renewSession(),
};

export interface ConsoleProps {
  vmid: number | string;
  /** The console fills a window of its own (no "open in own window" button; the screen takes the focus). */
  standalone?: boolean;
  /** Shown first in the toolbar's row (the guest page's heading), so the screen starts higher. */
  heading?: ComponentChildren;
  deps?: Partial<ConsoleDeps>;
}

interface Close {
  code: number;
  reason: string;
}

export type ConsolePhase =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'not-running'; last: Close | null }
  | { kind: 'disconnected'; close: Close; opened: boolean }
  | { kind: 'refused'; error: unknown };

/** The key combination's label in the user's language: "Ctrl+Alt+Del" / "Strg+Alt+Entf". */
export function comboLabel(names: readonly KeyName[]): string {
  const label: Partial<Record<KeyName, string>> = {
    ctrl: t('console.key.ctrl'),
    alt: t('console.key.alt'),
    del: t('console.key.del'),
    backspace: t('console.key.backspace'),
    tab: t('console.key.tab'),
    print: t('console.key.print'),
  };
  return names.map((n) => label[n] ?? n.toUpperCase()).join('+');
}

/** A window of its own for the console: one per guest, reused on a second click. */
export function openConsoleWindow(vmid: number | string, open: ConsoleDeps['openWindow'] = DEFAULT_DEPS.openWindow): void {
  const url = `${location.origin}${location.pathname}${href('console', vmid)}`;
  open(url, `ramvm-console-${vmid}`, 'popup,width=1040,height=860');
}

function readScale(): boolean {
  try {
    return localStorage.getItem(SCALE_STORAGE_KEY) !== '0';
  } catch {
    return true;
  }
}

function saveScale(on: boolean): void {
  try {
    localStorage.setItem(SCALE_STORAGE_KEY, on ? '1' : '0');
  } catch {
    /* private mode: the choice lasts for this page */
  }
}

/** Ctrl+Alt+Shift, in any order of pressing. */
const isLeaveChord = (e: KeyboardEvent) =>
  e.ctrlKey && e.altKey && e.shiftKey && (e.key === 'Shift' || e.key === 'Control' || e.key === 'Alt');

export function Console(p: ConsoleProps) {
  const deps: ConsoleDeps = { ...DEFAULT_DEPS, ...p.deps };
  const vmid = p.vmid;
  const uid = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const screenRef = useRef<HTMLDivElement>(null);
  const toolbarRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<Rfb | null>(null);
  const [phase, setPhase] = useState<ConsolePhase>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);
  const [name, setName] = useState('');
  const [scale, setScale] = useState(readScale);
  const [fullscreen, setFullscreen] = useState(false);
  const [panel, setPanel] = useState<'keys' | 'type' | null>(null);

  // One connection per (guest, attempt).
  useEffect(() => {
    let live = true;
    let rfb: Rfb | null = null;
    setPhase({ kind: 'connecting' });
    setName('');
    void (async () => {
      let RFB: RfbConstructor;
      try {
        [RFB] = await Promise.all([deps.loadRfb(), deps.renew()]);
      } catch (error) {
        if (live) setPhase({ kind: 'refused', error });
        return;
      }
      const target = screenRef.current;
      if (!live || !target) return;
      let close: Close | null = null;
      let opened = false;
      const ws = deps.openSocket(urls.console(location, vmid));
      ws.addEventListener('close', (e) => (close = { code: e.code, reason: e.reason }));
      rfb = new RFB(target, ws, { shared: true });
      if (needsKeysymsOnly()) keysymsOnly(rfb);
      rfbRef.current = rfb;
      rfb.scaleViewport = scale;
      rfb.background = 'transparent';
      const canvas = target.querySelector('canvas');
      if (canvas) {
        canvas.tabIndex = 0;
        canvas.setAttribute('aria-label', t('console.screen', { vmid }));
      }
      rfb.addEventListener('connect', () => {
        opened = true;
        if (!live) return;
        setPhase({ kind: 'connected' });
      });
      rfb.addEventListener('desktopname', (e) => live && setName(String((e as CustomEvent<{ name?: string }>).detail?.name ?? '')));
      rfb.addEventListener('disconnect', async () => {
        if (rfbRef.current === rfb) rfbRef.current = null;
        if (!live) return;
        const probe = await deps.probe(vmid);
        if (!live) return;
        const last = close ?? { code: 1006, reason: '' };
        if (probe.kind === 'running') setPhase({ kind: 'disconnected', close: last, opened });
        else if (probe.kind === 'not-running') setPhase({ kind: 'not-running', last: opened ? last : null });
        else setPhase({ kind: 'refused', error: probe.error });
      });
    })();
    return () => {
      live = false;
      if (rfbRef.current === rfb) rfbRef.current = null;
      rfb?.disconnect();
    };
  }, [vmid, attempt]);

  // While the guest is stopped: look again now and then, connect once it runs.
  useEffect(() => {
    if (phase.kind !== 'not-running') return;
    let live = true;
    void (async () => {
      for (;;) {
        await deps.wait(NOT_RUNNING_POLL_MS);
        if (!live) return;
        const probe = await deps.probe(vmid);
        if (!live) return;
        if (probe.kind === 'running') {
          setAttempt((a) => a + 1);
          return;
        }
        if (probe.kind === 'refused') {
          setPhase({ kind: 'refused', error: probe.error });
          return;
        }
      }
    })();
    return () => {
      live = false;
    };
  }, [phase.kind, vmid]);

  // In a window of its own the screen takes the keyboard once it shows (a hidden canvas cannot take the focus).
  useEffect(() => {
    if (phase.kind === 'connected' && p.standalone) rfbRef.current?.focus();
  }, [phase.kind]);

  useEffect(() => {
    if (rfbRef.current) rfbRef.current.scaleViewport = scale;
    saveScale(scale);
  }, [scale]);

  useEffect(() => {
    const onChange = () => setFullscreen(!!document.fullscreenElement && document.fullscreenElement === rootRef.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, []);

  const connected = phase.kind === 'connected';
  const reconnect = () => setAttempt((a) => a + 1);

  const send = (strokes: readonly KeyStroke[]) => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    for (const s of strokes) rfb.sendKey(s.keysym, s.code, s.down);
  };

  const sendCombo = (names: readonly KeyName[]) => {
    send(comboStrokes(names));
    setPanel(null);
    rfbRef.current?.focus();
  };

  const toggleFullscreen = async () => {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await rootRef.current?.requestFullscreen();
    } catch {
      /* refused by the browser (not from a click, or not allowed): nothing changes */
    }
  };

  const onStageKeyDown = (e: KeyboardEvent) => {
    if (!isLeaveChord(e)) return;
    e.preventDefault();
    e.stopPropagation();
    toolbarRef.current?.querySelector<HTMLElement>('button:not([disabled])')?.focus();
  };

  const canFullscreen = typeof document !== 'undefined' && document.fullscreenEnabled === true;
  const keysId = `keys${uid}`;
  const typeId = `type${uid}`;

  return html`<div class=${`console${fullscreen ? ' console-full' : ''}`} ref=${rootRef}>
    <div class="console-head">
    ${p.heading}
    <div class="console-toolbar" ref=${toolbarRef} role="toolbar" aria-label=${t('console.toolbar', { vmid })}>
      <button type="button" class="btn btn-small" disabled=${!connected} onClick=${() => sendCombo(COMBOS[0]!)}>
        ${t('console.send', { keys: comboLabel(COMBOS[0]!) })}
      </button>
      <button type="button" class="btn btn-small" disabled=${!connected} aria-expanded=${panel === 'keys'} aria-controls=${keysId}
        onClick=${() => setPanel(panel === 'keys' ? null : 'keys')}>${t('console.moreKeys')}</button>
      <button type="button" class="btn btn-small" disabled=${!connected} aria-expanded=${panel === 'type'} aria-controls=${typeId}
        onClick=${() => setPanel(panel === 'type' ? null : 'type')}>${t('console.typeText')}</button>
      <span class="console-toolbar-gap"></span>
      <button type="button" class="btn btn-small" aria-pressed=${scale} onClick=${() => setScale(!scale)}>${t('console.fit')}</button>
      ${canFullscreen &&
      html`<button type="button" class="btn btn-small" aria-pressed=${fullscreen} onClick=${toggleFullscreen}>${t('console.fullscreen')}</button>`}
      ${!p.standalone &&
      html`<button type="button" class="btn btn-small" onClick=${() => openConsoleWindow(vmid, deps.openWindow)}>${t('console.ownWindow')}</button>`}
      <${ConsoleBadge} phase=${phase} />
    </div>
    </div>
    ${panel === 'keys' &&
    html`<div class="console-panel" id=${keysId} onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && setPanel(null)}>
      <ul class="console-keys" aria-label=${t('console.moreKeys')}>
        ${COMBOS.map(
          (c) => html`<li key=${c.join('-')}>
            <button type="button" class="btn btn-small" disabled=${!connected} onClick=${() => sendCombo(c)}>${comboLabel(c)}</button>
          </li>`,
        )}
      </ul>
    </div>`}
    ${panel === 'type' &&
    html`<${TypePanel} id=${typeId} connected=${connected} send=${send} wait=${deps.wait} onDone=${() => rfbRef.current?.focus()} />`}
    <div class="console-stage" onKeyDownCapture=${onStageKeyDown}>
      <div class=${`console-screen${connected ? '' : ' console-screen-idle'}`} ref=${screenRef}></div>
      <${PhaseMessage} phase=${phase} vmid=${vmid} name=${name} onReconnect=${reconnect} />
    </div>
    <p class="console-hint">${t('console.hint')}</p>
  </div>`;
}

function ConsoleBadge({ phase }: { phase: ConsolePhase }) {
  switch (phase.kind) {
    case 'connecting':
      return html`<${StatusBadge} tone="running" label=${t('console.state.connecting')} />`;
    case 'connected':
      return html`<${StatusBadge} tone="ok" label=${t('console.state.connected')} />`;
    case 'not-running':
      return html`<${StatusBadge} tone="neutral" label=${t('console.state.notRunning')} />`;
    case 'disconnected':
      return html`<${StatusBadge} tone="warning" label=${t('console.state.disconnected')} />`;
    default:
      return html`<${StatusBadge} tone="failed" label=${t('console.state.refused')} />`;
  }
}

function closeDetail(close: Close): string {
  const why = t(closeText(close.code));
  return [why, close.reason && close.reason !== why ? close.reason : '', t('console.closeCode', { code: close.code })].filter(Boolean).join(' ');
}

function PhaseMessage(p: { phase: ConsolePhase; vmid: number | string; name: string; onReconnect: () => void }) {
  const ph = p.phase;
  if (ph.kind === 'refused') {
    return html`<div class="console-message">
      <${ErrorBanner} error=${ph.error} onRetry=${p.onReconnect} />
    </div>`;
  }
  let title = '';
  let detail = '';
  let action = false;
  if (ph.kind === 'connecting') title = t('console.connecting', { vmid: p.vmid });
  else if (ph.kind === 'connected') title = p.name ? t('console.connectedTo', { name: p.name }) : t('console.state.connected');
  else if (ph.kind === 'not-running') {
    title = t('console.notRunning', { vmid: p.vmid });
    detail = [t('console.notRunningWait'), ph.last ? t('console.lastClose', { detail: closeDetail(ph.last) }) : ''].filter(Boolean).join(' ');
  } else {
    title = ph.opened ? t('console.disconnected') : t('console.couldNotOpen');
    detail = closeDetail(ph.close);
    action = true;
  }
  return html`<div class=${`console-message${ph.kind === 'connected' ? ' sr-only' : ''}`} role="status">
    <p class="console-message-title">${title}</p>
    ${detail && html`<p>${detail}</p>`}
    ${action && html`<button type="button" class="btn btn-primary" onClick=${p.onReconnect}>${t('console.reconnect')}</button>`}
  </div>`;
}

interface TypePanelProps {
  id: string;
  connected: boolean;
  send: (strokes: readonly KeyStroke[]) => void;
  wait: (ms: number) => Promise<void>;
  onDone: () => void;
}

/** Text typed into the guest one character at a time, with progress and a stop button. */
function TypePanel(p: TypePanelProps) {
  const [text, setText] = useState('');
  const [typing, setTyping] = useState<{ done: number; total: number } | null>(null);
  const stop = useRef(false);
  const fieldId = `${p.id}-text`;
  const strange = untypable(text);

  useEffect(
    () => () => {
      stop.current = true;
    },
    [],
  );

  const run = async (e: Event) => {
    e.preventDefault();
    const groups = typeStrokes(text.slice(0, TYPE_MAX_CHARS));
    stop.current = false;
    setTyping({ done: 0, total: groups.length });
    for (let i = 0; i < groups.length && !stop.current; i++) {
      p.send(groups[i]!);
      setTyping({ done: i + 1, total: groups.length });
      await p.wait(TYPE_CHAR_DELAY_MS);
    }
    // A stop between a Shift press and its release must not leave Shift held.
    p.send([{ ...KEYS.shift, down: false }]);
    setTyping(null);
    if (!stop.current) p.onDone();
  };

  return html`<form class="console-panel" id=${p.id} onSubmit=${run}>
    <div class="field">
      <label for=${fieldId}>${t('console.typeLabel')}</label>
      <textarea id=${fieldId} rows="3" maxlength=${TYPE_MAX_CHARS} spellcheck=${false} autocomplete="off"
        aria-describedby=${`${fieldId}-hint`}
        value=${text} onInput=${(e: Event) => setText((e.currentTarget as HTMLTextAreaElement).value)}></textarea>
      <p class="field-hint" id=${`${fieldId}-hint`}>
        ${t('console.typeHint')}
        ${strange.length > 0 && html` <strong>${t('console.typeUntypable', { chars: strange.join(' ') })}</strong>`}
      </p>
    </div>
    <div class="console-type-actions">
      ${typing
        ? html`<button type="button" class="btn" onClick=${() => (stop.current = true)}>${t('console.typeStop')}</button>
            <span role="status">${t('console.typing', { done: typing.done, total: typing.total })}</span>`
        : html`<button type="submit" class="btn btn-primary" disabled=${!p.connected || text.length === 0}>${t('console.typeSubmit')}</button>`}
    </div>
  </form>`;
}
