/**
 * `npm run build`: esbuild bundles
 *   web/main.ts + web/style.css   → dist/www/app-<hash>.js, app-<hash>.css, index.html
 *   node-cgi/handlers/<h>.ts      → dist/cgi/<h>.cgi   (one file, node shebang, mode 0755)
 *   node-cgi/cli/ramvm.ts         → dist/bin/ramvm
 *   node-cgi/root/helper.ts       → dist/bin/ramvm-root (the root helper: its own bundle, so
 *                                   what runs as root is only what its operations need)
 * and prints each output's size (raw and gzip), failing when a budget in
 * BUDGETS is exceeded. The budgets are also stated in README.md.
 */
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

export const ROOT = join(__dirname, '..');
export const DIST = join(ROOT, 'dist');

/** Size budgets in bytes. Raise one only in a commit that says why. */
export const BUDGETS = {
  /** The web app's JS loaded before the first page shows (entry and its static imports), gzip. */
  webJsGzip: 40 * 1024,
  /** All of the web app's JS but noVNC (eager and every lazy view chunk together), gzip. */
  webJsAllGzip: 96 * 1024,
  /** Each lazily loaded chunk but noVNC's (a view, or parts views share), gzip. */
  webChunkGzip: 12 * 1024,
  /** Each CGI bundle, raw. */
  cgiRaw: 150 * 1024,
  /** The ramvm CLI, raw (it carries every task kind). */
  cliRaw: 400 * 1024,
  /** The root helper, raw: what runs as root stays small enough to read (48 → 64 KB: backup disks that boot, laid out and written as system disks are; a raw disk's image adopted as a replicated disk fits since the helper stopped carrying the image's program lists). */
  rootHelperRaw: 64 * 1024,
};

export interface SizeRow {
  file: string;
  raw: number;
  gzip: number;
  budget?: { bytes: number; of: 'raw' | 'gzip' };
}

const NODE_SHEBANG = '#!/usr/bin/env node';

const nodeOptions: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  banner: { js: NODE_SHEBANG },
  logLevel: 'warning',
};

export function cgiEntries(): string[] {
  const dir = join(ROOT, 'node-cgi/handlers');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

export async function buildAll(): Promise<SizeRow[]> {
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(join(DIST, 'cgi'), { recursive: true });
  mkdirSync(join(DIST, 'bin'), { recursive: true });
  mkdirSync(join(DIST, 'www'), { recursive: true });

  const rows: SizeRow[] = [];
  await Promise.all(
    cgiEntries().map(async (entry) => {
      const out = join(DIST, 'cgi', basename(entry, '.ts') + '.cgi');
      await build({ ...nodeOptions, entryPoints: [entry], outfile: out });
      chmodSync(out, 0o755);
      rows.push(sizeRow(out, { bytes: BUDGETS.cgiRaw, of: 'raw' }));
    }),
  );
  const cli = join(DIST, 'bin/ramvm');
  await build({ ...nodeOptions, entryPoints: [join(ROOT, 'node-cgi/cli/ramvm.ts')], outfile: cli });
  chmodSync(cli, 0o755);
  rows.push(sizeRow(cli, { bytes: BUDGETS.cliRaw, of: 'raw' }));
  const helper = join(DIST, 'bin/ramvm-root');
  await build({ ...nodeOptions, entryPoints: [join(ROOT, 'node-cgi/root/helper.ts')], outfile: helper });
  chmodSync(helper, 0o755);
  rows.push(sizeRow(helper, { bytes: BUDGETS.rootHelperRaw, of: 'raw' }));

  rows.push(...(await buildWeb()));
  rows.sort((a, b) => a.file.localeCompare(b.file));
  return rows;
}

/**
 * A catalogue of web/i18n/ other than en.ts as the bundle carries it: its
 * texts in en.ts's key order, paired with en's keys when loaded. Every
 * catalogue has en's keys (test/unit/web/i18n.test.ts), so each key ships
 * once; a second copy would cost its full size, since gzip only finds
 * repeats within 32 KiB and the other catalogue lies further away.
 *
 *   catalogueSource('de', { 'a.b': 'Yes' }, { 'a.b': 'Ja' })
 *   → import { en } from './en'; const v = ["Ja"]; export const de = …fromEntries(…en's keys with v…);
 */
export function catalogueSource(name: string, en: Record<string, string>, other: Record<string, string>): string {
  const texts = JSON.stringify(Object.keys(en).map((k) => other[k] ?? null));
  return `import { en } from './en';\nconst v = ${texts};\nexport const ${name} = Object.fromEntries(Object.keys(en).map((k, i) => [k, v[i] ?? en[k]]));\n`;
}

/** Bundles every catalogue but en.ts through catalogueSource(). */
const catalogueKeysOnce: Plugin = {
  name: 'catalogue-keys-once',
  setup(b) {
    b.onLoad({ filter: /[\\/]web[\\/]i18n[\\/][a-z]{2}\.ts$/ }, (args) => {
      const name = basename(args.path, '.ts');
      if (name === 'en') return undefined;
      const load = (file: string) => {
        delete require.cache[require.resolve(file)];
        return require(file) as Record<string, Record<string, string>>;
      };
      const en = load(join(ROOT, 'web/i18n/en.ts')).en!;
      const other = load(args.path)[name];
      if (!other) throw new Error(`${args.path} exports no catalogue "${name}"`);
      return { contents: catalogueSource(name, en, other), loader: 'ts', resolveDir: join(ROOT, 'web/i18n') };
    });
  },
};

/** The web app's entry, relative to ROOT (the metafile names inputs so). */
const WEB_ENTRY = 'web/main.ts';

async function buildWeb(): Promise<SizeRow[]> {
  const www = join(DIST, 'www');
  const result = await build({
    entryPoints: { app: join(ROOT, WEB_ENTRY) },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: www,
    metafile: true,
    logLevel: 'warning',
    loader: { '.css': 'css' },
    plugins: [catalogueKeysOnce],
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => join(ROOT, f));
  const appJs = outputs.find((f) => /\/app-[A-Z0-9]+\.js$/.test(f));
  const appCss = outputs.find((f) => /\/app-[A-Z0-9]+\.css$/.test(f));
  if (!appJs) throw new Error('web build produced no app bundle');
  const html = readFileSync(join(ROOT, 'web/index.html'), 'utf8')
    .replace('%APP_JS%', basename(appJs))
    .replace('%APP_CSS%', appCss ? basename(appCss) : '');
  writeFileSync(join(www, 'index.html'), html);
  for (const f of readdirSync(join(ROOT, 'web/static'))) copyFileSync(join(ROOT, 'web/static', f), join(www, f));

  const sizes = new Map(outputs.map((f) => [relative(ROOT, f), sizeRow(f)]));
  const rows = webJsRows(classifyWebOutputs(result.metafile, WEB_ENTRY).map((o) => ({ ...o, ...sizes.get(o.file)! })));
  for (const f of outputs) if (!f.endsWith('.js')) rows.push(sizes.get(relative(ROOT, f))!);
  return rows;
}

/** One JS output of the web build: how it loads and whether it is noVNC. */
export interface WebOutput {
  /** Path relative to ROOT, as esbuild's metafile names it. */
  file: string;
  /** Reached from the entry through static imports: loaded before the first page shows. */
  eager: boolean;
  /** Made of noVNC alone (loaded by the console through import('@novnc/novnc')). */
  novnc: boolean;
}

/**
 * The JS outputs of a web build, classified from esbuild's metafile:
 *
 *   app-X.js (of `entry`) → chunk-chunk-Y.js (import) → eager
 *   app-X.js ⇢ chunk-guests-Z.js (import())      → lazy
 *   chunk-rfb-W.js, every input under node_modules/@novnc/ → novnc
 */
export function classifyWebOutputs(meta: Pick<Metafile, 'outputs'>, entry: string): WebOutput[] {
  const outs = meta.outputs;
  const eager = new Set<string>();
  const walk = (k: string) => {
    if (eager.has(k)) return;
    eager.add(k);
    for (const imp of outs[k]?.imports ?? []) if (imp.kind === 'import-statement') walk(imp.path);
  };
  // A chunk that import() reaches is an entry point of its own in the metafile too: start from the app's.
  for (const k of Object.keys(outs)) if (outs[k]!.entryPoint === entry) walk(k);
  return Object.keys(outs)
    .filter((k) => k.endsWith('.js'))
    .map((k) => {
      const inputs = Object.keys(outs[k]!.inputs);
      return { file: k, eager: eager.has(k), novnc: inputs.length > 0 && inputs.every((i) => i.startsWith('node_modules/@novnc/')) };
    });
}

/**
 * Size rows of the web JS with their budgets: each lazy chunk (webChunkGzip),
 * the eager set together (webJsGzip) and everything but noVNC together
 * (webJsAllGzip). noVNC's chunks are listed without a budget.
 */
export function webJsRows(outputs: ReadonlyArray<WebOutput & { raw: number; gzip: number }>): SizeRow[] {
  const gz = { bytes: BUDGETS.webChunkGzip, of: 'gzip' } as const;
  const rows: SizeRow[] = outputs.map((o) => ({ file: o.file, raw: o.raw, gzip: o.gzip, ...(o.eager || o.novnc ? {} : { budget: gz }) }));
  const sum = (file: string, list: ReadonlyArray<{ raw: number; gzip: number }>, bytes: number): SizeRow => ({
    file,
    raw: list.reduce((s, o) => s + o.raw, 0),
    gzip: list.reduce((s, o) => s + o.gzip, 0),
    budget: { bytes, of: 'gzip' },
  });
  const own = outputs.filter((o) => !o.novnc);
  rows.push(sum('dist/www (app JS, eager)', own.filter((o) => o.eager), BUDGETS.webJsGzip));
  rows.push(sum('dist/www (app JS, all but noVNC)', own, BUDGETS.webJsAllGzip));
  return rows;
}

function sizeRow(file: string, budget?: SizeRow['budget']): SizeRow {
  const buf = readFileSync(file);
  const row: SizeRow = { file: relative(ROOT, file), raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
  if (budget) row.budget = budget;
  return row;
}

/** Rows over budget. */
export function overBudget(rows: readonly SizeRow[]): SizeRow[] {
  return rows.filter((r) => r.budget && (r.budget.of === 'raw' ? r.raw : r.gzip) > r.budget.bytes);
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

export function formatSizes(rows: readonly SizeRow[]): string {
  const w = Math.max(...rows.map((r) => r.file.length));
  return rows
    .map((r) => {
      const b = r.budget ? `  budget ${kb(r.budget.bytes)} ${r.budget.of}${overBudget([r]).length ? '  OVER BUDGET' : ''}` : '';
      return `${r.file.padEnd(w)}  ${kb(r.raw).padStart(9)} raw  ${kb(r.gzip).padStart(9)} gzip${b}`;
    })
    .join('\n');
}

export async function buildCommand(): Promise<void> {
  const rows = await buildAll();
  process.stdout.write(formatSizes(rows) + '\n');
  const over = overBudget(rows);
  if (over.length > 0) throw new Error(`size budget exceeded: ${over.map((r) => r.file).join(', ')}`);
}
