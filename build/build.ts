/**
 * `npm run build`: esbuild bundles
 *   web/main.ts + web/style.css   → dist/www/app-<hash>.js, app-<hash>.css, index.html
 *   node-cgi/handlers/<h>.ts      → dist/cgi/<h>.cgi   (one file, node shebang, mode 0755)
 *   node-cgi/cli/ramvm.ts         → dist/bin/ramvm
 * and prints each output's size (raw and gzip), failing when a budget in
 * BUDGETS is exceeded. The budgets are also stated in README.md.
 */
import { build, type BuildOptions } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

export const ROOT = join(__dirname, '..');
export const DIST = join(ROOT, 'dist');

/** Size budgets in bytes. Raise one only in a commit that says why. */
export const BUDGETS = {
  /** The web app's own JS, gzip (noVNC is loaded lazily and not counted). */
  webJsGzip: 40 * 1024,
  /** Each CGI bundle, raw. */
  cgiRaw: 150 * 1024,
  /** The ramvm CLI, raw (it carries every task kind). */
  cliRaw: 400 * 1024,
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

  rows.push(...(await buildWeb()));
  rows.sort((a, b) => a.file.localeCompare(b.file));
  return rows;
}

async function buildWeb(): Promise<SizeRow[]> {
  const www = join(DIST, 'www');
  const result = await build({
    entryPoints: { app: join(ROOT, 'web/main.ts') },
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

  // The app's own JS: the entry and every chunk that is not noVNC's (loaded lazily by the console).
  const lazy = new Set(lazyChunks(result.metafile));
  const own = outputs.filter((f) => f.endsWith('.js') && !lazy.has(f));
  const ownGzip = own.reduce((s, f) => s + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  const ownRaw = own.reduce((s, f) => s + statSync(f).size, 0);
  const rows: SizeRow[] = outputs.map((f) => sizeRow(f));
  rows.push({ file: 'dist/www (app JS, eager)', raw: ownRaw, gzip: ownGzip, budget: { bytes: BUDGETS.webJsGzip, of: 'gzip' } });
  return rows;
}

/** Outputs reached only through dynamic import() from the entry (e.g. noVNC). */
function lazyChunks(meta: import('esbuild').Metafile): string[] {
  const outs = meta.outputs;
  const entry = Object.keys(outs).find((k) => outs[k]!.entryPoint);
  const eager = new Set<string>();
  const walk = (k: string) => {
    if (eager.has(k)) return;
    eager.add(k);
    for (const imp of outs[k]?.imports ?? []) if (imp.kind === 'import-statement') walk(imp.path);
  };
  if (entry) walk(entry);
  return Object.keys(outs).filter((k) => k.endsWith('.js') && !eager.has(k)).map((k) => join(ROOT, k));
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
