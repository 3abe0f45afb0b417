/**
 * The QEMU monitor of one guest as a small terminal: a command line with
 * history (Up/Down, kept per guest while the page lives), each command sent
 * as POST /api/monitor/<vmid> {"command"}, its answer appended to a
 * monospace transcript that is plain selectable text, so commands and
 * output copy out with the mouse. Several lines pasted at once run one
 * after the other. Shown only to users who hold VM.Monitor (HMP can do
 * anything QEMU can).
 *
 *   html`<${Monitor} vmid=${101} me=${me} />`
 *
 * Transcript of `info status`:
 *
 *   (qemu) info status
 *   VM status: running
 */
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { t } from '../i18n';
import { ApiError, type Me } from '../api';
import { client } from '../client';
import { errorTitle } from '../components/error-banner';
import { useCopy } from './clipboard';

/** Commands kept in the history of one guest. */
export const HISTORY_MAX = 100;
/** Transcript entries kept; older ones drop off the top. */
export const TRANSCRIPT_MAX = 1000;
/** The node's limit for one command, in characters. */
export const COMMAND_MAX_CHARS = 4096;

export const MONITOR_PRIV = 'VM.Monitor';
/** HMP's own prompt, shown before each command as QEMU shows it. */
const PROMPT = '(qemu)';

export interface Entry {
  kind: 'command' | 'output' | 'error';
  text: string;
}

/** The history with `command` added: no blanks, no repeat of the last one, at most HISTORY_MAX. */
export function pushHistory(history: readonly string[], command: string): string[] {
  const c = command.trim();
  if (!c || history[history.length - 1] === c) return [...history];
  return [...history, c].slice(-HISTORY_MAX);
}

/**
 * One step through the history: `pos` is the entry shown (history.length:
 * the line being written, kept as `draft`). Up goes back, Down forward.
 *
 *   historyStep(['a', 'b'], 2, 'up', 'x')  → { pos: 1, value: 'b' }
 *   historyStep(['a', 'b'], 1, 'down', 'x') → { pos: 2, value: 'x' }
 */
export function historyStep(history: readonly string[], pos: number, dir: 'up' | 'down', draft: string): { pos: number; value: string } {
  const next = dir === 'up' ? Math.max(0, pos - 1) : Math.min(history.length, pos + 1);
  return { pos: next, value: next === history.length ? draft : history[next]! };
}

/** Pasted text as commands: one per non-blank line. */
export function commandLines(text: string): string[] {
  return text.split(/\r\n?|\n/).map((l) => l.trim()).filter(Boolean);
}

/** Histories and transcripts per guest, kept while the page lives (a guest page opened again shows them). */
const histories = new Map<string, string[]>();
const transcripts = new Map<string, Entry[]>();

/** The text of a refusal in the transcript: headline and the node's message. */
function errorLine(e: unknown): string {
  const head = t(errorTitle(e));
  return e instanceof ApiError && e.status !== 0 ? `${head} ${e.message}` : head;
}

export interface MonitorProps {
  vmid: number | string;
  me: Pick<Me, 'privileges'>;
}

export function Monitor({ vmid, me }: MonitorProps) {
  if (!me.privileges.includes(MONITOR_PRIV)) return null;
  return html`<${Terminal} vmid=${vmid} />`;
}

function Terminal({ vmid }: { vmid: number | string }) {
  const key = String(vmid);
  const uid = useId();
  const [entries, setEntries] = useState<Entry[]>(() => transcripts.get(key) ?? []);
  const [line, setLine] = useState('');
  const [busy, setBusy] = useState(false);
  const { copied, copy: copyOut } = useCopy();
  const pos = useRef((histories.get(key) ?? []).length);
  const draft = useRef('');
  const queue = useRef<string[]>([]);
  const outRef = useRef<HTMLPreElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const live = useRef(true);
  const running = useRef(false);

  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
      queue.current = [];
    };
  }, []);

  useLayoutEffect(() => {
    const el = outRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [entries]);

  const append = (more: Entry[]) => {
    const next = [...(transcripts.get(key) ?? []), ...more].slice(-TRANSCRIPT_MAX);
    transcripts.set(key, next);
    if (live.current) setEntries(next);
  };

  const run = async (commands: string[]) => {
    queue.current.push(...commands);
    if (running.current) return;
    running.current = true;
    setBusy(true);
    while (queue.current.length > 0) {
      const command = queue.current.shift()!.slice(0, COMMAND_MAX_CHARS);
      const history = pushHistory(histories.get(key) ?? [], command);
      histories.set(key, history);
      pos.current = history.length;
      draft.current = '';
      append([{ kind: 'command', text: command }]);
      try {
        const r = await client.monitor.run(key, command);
        if (r.output) append([{ kind: 'output', text: r.output.replace(/\n$/, '') }]);
      } catch (e) {
        append([{ kind: 'error', text: errorLine(e) }]);
        queue.current = [];
      }
    }
    running.current = false;
    if (live.current) {
      setBusy(false);
      inputRef.current?.focus();
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const commands = commandLines(line);
    setLine('');
    if (commands.length > 0) void run(commands);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    e.preventDefault();
    const history = histories.get(key) ?? [];
    if (pos.current === history.length) draft.current = line;
    const step = historyStep(history, pos.current, e.key === 'ArrowUp' ? 'up' : 'down', draft.current);
    pos.current = step.pos;
    setLine(step.value);
  };

  const onPaste = (e: ClipboardEvent) => {
    const pasted = e.clipboardData?.getData('text') ?? '';
    if (!/[\r\n]/.test(pasted.trim())) return;
    e.preventDefault();
    const input = e.currentTarget as HTMLInputElement;
    const at = input.selectionStart ?? line.length;
    const commands = commandLines(line.slice(0, at) + pasted + line.slice(input.selectionEnd ?? at));
    setLine('');
    void run(commands);
  };

  const clear = () => {
    transcripts.set(key, []);
    setEntries([]);
  };

  const copy = () => copyOut(entries.map((x) => (x.kind === 'command' ? `${PROMPT} ${x.text}` : x.text)).join('\n') + '\n');

  const inputId = `mon${uid}`;
  const outId = `monout${uid}`;
  return html`<section class="monitor" aria-labelledby=${`${inputId}-title`}>
    <div class="monitor-head">
      <h2 id=${`${inputId}-title`}>${t('monitor.title')}</h2>
      <span class="monitor-tools">
        <button type="button" class="btn btn-small" disabled=${entries.length === 0} onClick=${copy}>${t('monitor.copy')}</button>
        <button type="button" class="btn btn-small" disabled=${entries.length === 0} onClick=${clear}>${t('monitor.clear')}</button>
        <span class="monitor-copied" role="status">${copied ? t('monitor.copied') : ''}</span>
      </span>
    </div>
    <pre class="monitor-out" id=${outId} ref=${outRef} tabindex="0" role="log" aria-label=${t('monitor.output')}>${entries.length === 0
      ? html`<span class="monitor-empty">${t('monitor.empty')}</span>`
      : entries.map(
          (x, i) => html`<span key=${i} class=${`monitor-${x.kind}`}>${x.kind === 'command' ? html`<span class="monitor-prompt">${PROMPT} </span>` : ''}${x.text}${'\n'}</span>`,
        )}</pre>
    <form class="monitor-line" onSubmit=${submit}>
      <label class="sr-only" for=${inputId}>${t('monitor.command')}</label>
      <span class="monitor-prompt" aria-hidden="true">${PROMPT}</span>
      <input
        id=${inputId}
        ref=${inputRef}
        class="monitor-input"
        value=${line}
        maxlength=${COMMAND_MAX_CHARS}
        autocomplete="off"
        autocapitalize="off"
        spellcheck=${false}
        aria-controls=${outId}
        aria-describedby=${`${inputId}-hint`}
        aria-busy=${busy || undefined}
        onInput=${(e: Event) => setLine((e.currentTarget as HTMLInputElement).value)}
        onKeyDown=${onKeyDown}
        onPaste=${onPaste}
      />
      <button type="submit" class="btn btn-small" disabled=${busy}>${t('monitor.send')}</button>
    </form>
    <p class="field-hint" id=${`${inputId}-hint`}>${t('monitor.hint')}</p>
  </section>`;
}
