/**
 * `npm run bench`: every benchmark under test/bench (files *.bench.ts, each
 * exporting `bench(): Promise<BenchResult[]>`), printed one figure a line:
 * its ratio to a baseline measured in the same run, and whether it meets its
 * goal, where it has one.
 *
 *   npm run bench              all
 *   npm run bench -- cgi       files whose name matches "cgi"
 *
 *   live backup 2 GiB: 2650.00 ms  baseline cp 2410.00 ms  ratio 1.10  goal ≤ 1.1× cp: met
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
  goal?: Goal;
  note?: string;
}

/** A goal and whether this run's figure meets it (the bench decides, on the value or the ratio). */
export interface Goal {
  text: string;
  met: boolean;
}

export const goal = (text: string, met: boolean): Goal => ({ text, met });

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
  const goals = rows.filter((r) => r.goal);
  const missed = goals.filter((r) => !r.goal!.met);
  process.stdout.write(`\n${rows.length} measurements, ${goals.length} with a goal: ${goals.length - missed.length} met, ${missed.length} not met${missed.length ? ` (${missed.map((r) => r.name).join('; ')})` : ''}\n`);
}

export function formatBench(r: BenchResult): string {
  const base = r.baseline ? `  baseline ${r.baseline.name} ${r.baseline.value.toFixed(2)} ${r.unit}` : '';
  const ratio = r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(2)}` : '';
  const g = r.goal ? `  goal ${r.goal.text}: ${r.goal.met ? 'met' : 'NOT MET'}` : '';
  return `${r.name}: ${r.value.toFixed(2)} ${r.unit}${base}${ratio}${g}${r.note ? `  ${r.note}` : ''}`;
}
