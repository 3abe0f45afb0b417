/**
 * docs/API.md as a test: its `sh` blocks split into commands, each with the
 * answer the text shows under it, and the rule that compares an answer with
 * what the command printed. test/integration/api-docs.test.ts runs them.
 *
 * Under a command, comment lines that start with `{`, `[` or an HTTP status
 * are its answer (JSON, over as many lines as its brackets need); `# > text`
 * lines are its plain output. Other comments are prose. For example
 *
 *   curl -s -b jar $N/api/access/users/anna        one command (trailing comments are bash's)
 *   # {"data":{"username":"anna",…,"tokens":0}}    its answer
 *
 * An answer matches when (see matchJson and matchText):
 *   * a leading status ("201 {…}", "204") equals the HTTP status; without
 *     one the status is below 400;
 *   * `…` stands for what is left out: a value (any), an object member (any
 *     further members), array elements (any number), text inside a string
 *     or a plain line (any); `…words…` (e.g. `…the config…`) is one `…`;
 *   * everything else is equal: every key, string, number, boolean and null;
 *     an object has no other members unless `…` stands among them.
 */

export interface DocCommand {
  /** The command's text as bash reads it (continuation lines included). */
  text: string;
  /** Line of docs/API.md where it starts (1-based). */
  line: number;
  /** What the text shows under it, if anything. */
  answer?: DocAnswer;
}

export type DocAnswer =
  /** pattern null: the text shows a status alone; error: the pattern does not parse. */
  | { kind: 'json'; status: number | null; pattern: Pattern | null; text: string; error?: string }
  | { kind: 'text'; lines: string[] };

export interface DocBlock {
  line: number;
  commands: DocCommand[];
}

/** The ```sh blocks of a markdown text, in order. */
export function shellBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({ line: start + 1, commands: splitCommands(lines.slice(start, end), start + 1) });
    i = end;
  }
  return blocks;
}

/** Whether a line leaves a single or double quote open, given the state before it. */
function quoteState(line: string, open: "'" | '"' | null): "'" | '"' | null {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (open === "'") {
      if (c === "'") open = null;
    } else if (open === '"') {
      if (c === '\\') i++;
      else if (c === '"') open = null;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') open = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) break; // a comment to the end of the line
  }
  return open;
}

/** Balance of JSON brackets in a pattern line, strings skipped. */
function bracketDepth(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return depth;
}

const ANSWER_START = /^(?:\{|\[|[1-5][0-9][0-9](?:\s|$))/;

/** One block's lines into commands with their answers (see the top of this file). */
export function splitCommands(lines: readonly string[], firstLine: number): DocCommand[] {
  const out: DocCommand[] = [];
  let last: DocCommand | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '') {
      last = undefined;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const body = trimmed.replace(/^#\s?/, '');
      if (last && !last.answer && body.startsWith('> ')) {
        const text: string[] = [];
        while (i < lines.length && /^\s*# > /.test(lines[i]!)) text.push(lines[i++]!.replace(/^\s*# > /, ''));
        i--;
        last.answer = { kind: 'text', lines: text };
      } else if (last && !last.answer && ANSWER_START.test(body)) {
        let text = body;
        while (bracketDepth(text) > 0 && i + 1 < lines.length && lines[i + 1]!.trim().startsWith('#')) {
          text += '\n' + lines[++i]!.trim().replace(/^#\s?/, '');
        }
        const m = /^([1-5][0-9][0-9])(?:\s+|$)/.exec(text);
        const json = m ? text.slice(m[0].length) : text;
        try {
          last.answer = { kind: 'json', status: m ? Number(m[1]) : null, pattern: json.trim() ? parsePattern(json) : null, text };
        } catch (e) {
          last.answer = { kind: 'json', status: m ? Number(m[1]) : null, pattern: null, text, error: (e as Error).message };
        }
      } else {
        last = undefined; // prose about what follows
      }
      continue;
    }
    const start = i;
    let text = line;
    let open = quoteState(line, null);
    while ((open !== null || /\\$/.test(lines[i]!)) && i + 1 < lines.length) {
      text += '\n' + lines[++i]!;
      open = quoteState(lines[i]!, open);
    }
    last = { text, line: firstLine + start };
    out.push(last);
  }
  return out;
}

/** A JSON value with elisions (see the top of this file). */
export type Pattern =
  | { t: 'any' }
  | { t: 'object'; members: [string, Pattern][]; open: boolean }
  | { t: 'array'; items: (Pattern | 'more')[] }
  | { t: 'string'; parts: string[] }
  | { t: 'literal'; value: number | boolean | null };

const ELLIPSIS = '…';

/** Parse an answer pattern; throws with the offending position on bad syntax. */
export function parsePattern(text: string): Pattern {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`answer pattern: ${what} at ${i}: ${text.slice(Math.max(0, i - 20), i)}⟨here⟩${text.slice(i, i + 20)}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  /** `…` or `…words…`: true when one was read. */
  const ellipsis = (): boolean => {
    if (text[i] !== ELLIPSIS) return false;
    i++;
    const close = text.indexOf(ELLIPSIS, i);
    const next = /[,}\]]/.exec(text.slice(i));
    if (close >= 0 && (!next || close < i + next.index)) i = close + 1;
    return true;
  };
  const string = (): string[] => {
    if (text[i] !== '"') fail('expected a string');
    i++;
    let cur = '';
    const parts: string[] = [];
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        cur += JSON.parse(`"${text.slice(i, i + (text[i + 1] === 'u' ? 6 : 2))}"`) as string;
        i += text[i + 1] === 'u' ? 6 : 2;
      } else if (text[i] === ELLIPSIS) {
        parts.push(cur);
        cur = '';
        i++;
      } else cur += text[i++];
    }
    if (text[i] !== '"') fail('unterminated string');
    i++;
    parts.push(cur);
    return parts;
  };
  const value = (): Pattern => {
    ws();
    if (ellipsis()) return { t: 'any' };
    const c = text[i];
    if (c === '{') {
      i++;
      const members: [string, Pattern][] = [];
      let open = false;
      for (;;) {
        ws();
        if (text[i] === '}') break;
        if (ellipsis()) open = true;
        else {
          const key = string();
          if (key.length !== 1) fail('a key may not be elided');
          ws();
          if (text[i] !== ':') fail('expected ":"');
          i++;
          members.push([key[0]!, value()]);
        }
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail('expected "," or "}"');
      }
      i++;
      return { t: 'object', members, open };
    }
    if (c === '[') {
      i++;
      const items: (Pattern | 'more')[] = [];
      for (;;) {
        ws();
        if (text[i] === ']') break;
        const at = i;
        if (ellipsis()) {
          ws();
          // "…" alone between commas: any number of elements.
          if (text[i] === ',' || text[i] === ']') items.push('more');
          else {
            i = at;
            items.push(value());
          }
        } else items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ']') fail('expected "," or "]"');
      }
      i++;
      return { t: 'array', items };
    }
    if (c === '"') return { t: 'string', parts: string() };
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail('expected a value');
    i += m![0].length;
    return { t: 'literal', value: JSON.parse(m![0]) as number | boolean | null };
  };
  const p = value();
  ws();
  if (i !== text.length) fail('text after the value');
  return p;
}

/** Does a string fit parts that stand around `…`s? */
function matchParts(parts: readonly string[], s: string): boolean {
  if (parts.length === 1) return s === parts[0];
  if (!s.startsWith(parts[0]!) || !s.endsWith(parts[parts.length - 1]!)) return false;
  let at = parts[0]!.length;
  const end = s.length - parts[parts.length - 1]!.length;
  if (end < at) return false;
  for (const p of parts.slice(1, -1)) {
    const j = s.indexOf(p, at);
    if (j < 0 || j + p.length > end) return false;
    at = j + p.length;
  }
  return true;
}

/** Why a value does not match a pattern (a path and a reason), or null when it does. */
export function matchJson(p: Pattern, v: unknown, path = '$'): string | null {
  switch (p.t) {
    case 'any':
      return null;
    case 'literal':
      return v === p.value ? null : `${path}: expected ${JSON.stringify(p.value)}, got ${JSON.stringify(v)}`;
    case 'string':
      if (typeof v !== 'string') return `${path}: expected a string, got ${JSON.stringify(v)}`;
      return matchParts(p.parts, v) ? null : `${path}: expected "${p.parts.join(ELLIPSIS)}", got ${JSON.stringify(v)}`;
    case 'object': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${path}: expected an object, got ${JSON.stringify(v)}`;
      const o = v as Record<string, unknown>;
      for (const [k, sub] of p.members) {
        if (!(k in o)) return `${path}: no member "${k}" in ${JSON.stringify(o).slice(0, 300)}`;
        const why = matchJson(sub, o[k], `${path}.${k}`);
        if (why) return why;
      }
      if (!p.open) {
        const extra = Object.keys(o).filter((k) => !p.members.some(([m]) => m === k));
        if (extra.length > 0) return `${path}: members the text does not show: ${extra.join(', ')} (write "…" if they may vary)`;
      }
      return null;
    }
    case 'array': {
      if (!Array.isArray(v)) return `${path}: expected an array, got ${JSON.stringify(v)}`;
      return matchItems(p.items, v, 0, path) ? null : `${path}: ${JSON.stringify(v).slice(0, 400)} does not fit the ${p.items.length} item(s) the text shows`;
    }
  }
}

/** Array items against a pattern with `…` runs, by backtracking. */
function matchItems(items: readonly (Pattern | 'more')[], v: readonly unknown[], at: number, path: string): boolean {
  if (items.length === 0) return at === v.length;
  const [first, ...rest] = items;
  if (first === 'more') {
    for (let k = at; k <= v.length; k++) if (matchItems(rest, v, k, path)) return true;
    return false;
  }
  return at < v.length && matchJson(first!, v[at], `${path}[${at}]`) === null && matchItems(rest, v, at + 1, path);
}

/** Plain output lines against the text's lines (`…` as in strings). */
export function matchText(want: readonly string[], got: string): string | null {
  const lines = got.replace(/\n$/, '').split('\n');
  if (lines.length !== want.length) return `expected ${want.length} line(s), got ${lines.length}: ${JSON.stringify(got)}`;
  for (let k = 0; k < want.length; k++) {
    if (!matchParts(want[k]!.split(ELLIPSIS), lines[k]!)) return `line ${k + 1}: expected ${JSON.stringify(want[k])}, got ${JSON.stringify(lines[k])}`;
  }
  return null;
}
