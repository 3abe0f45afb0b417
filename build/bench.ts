/**
 * `npm run bench`: every benchmark under test/bench (files *.bench.ts, each
 * exporting `bench(): Promise<BenchResult[]>`), printed as a table of ratios
 * against a baseline measured in the same run.
 *
 *   npm run bench              all
 *   npm run bench -- cgi       files whose name matches "cgi"
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommand, ROOT } from './build';

export interface BenchResult {
  name: string;
  /** Measured value and its unit ("ms", "MiB/s", "MB"). */
  value: number;
  unit: string;
  /** Baseline of the same run, same unit. */
  baseline?: { name: string; value: number };
  /** value / baseline (or baseline / value for throughputs); what the goal is stated on. */
  ratio?: number;
  goal?: string;
  note?: string;
}

export async function benchCommand(args: string[]): Promise<void> {
  await buildCommand();
  const dir = join(ROOT, 'test/bench');
  const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && (!args[0] || f.includes(args[0]))).sort();
  const rows: BenchResult[] = [];
  for (const f of files) {
    process.stdout.write(`\n== ${f}\n`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, f)) as { bench: () => Promise<BenchResult[]> };
    const res = await mod.bench();
    for (const r of res) process.stdout.write(formatBench(r) + '\n');
    rows.push(...res);
  }
  process.stdout.write(`\n${rows.length} measurements\n`);
}

export function formatBench(r: BenchResult): string {
  const base = r.baseline ? `  baseline ${r.baseline.name} ${r.baseline.value.toFixed(2)} ${r.unit}` : '';
  const ratio = r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(2)}` : '';
  const goal = r.goal ? `  (goal ${r.goal})` : '';
  return `${r.name}: ${r.value.toFixed(2)} ${r.unit}${base}${ratio}${goal}${r.note ? `  ${r.note}` : ''}`;
}
