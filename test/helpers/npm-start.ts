/**
 * A node started the way `npm start` starts it (build/run.mjs start, the
 * README's command), for tests of what that process does itself: its
 * "listening on" line, its signals, the backup scheduler it runs.
 *
 *   const n = startNpm({ RAMVM_ROOT: root, RAMVM_PORT: String(port), RAMVM_ADMIN_PASSWORD: 'pw' });
 *   const url = await n.listening;          // http://127.0.0.1:<port>
 *   n.proc.kill('SIGINT');
 *   assert.is(await exited(n.proc), 0, n.out());
 *   assert.equal(lighttpdOf(root), []);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../build/build';

/** Longest wait for the "listening on" line (npm start builds first). */
export const LISTEN_TIMEOUT_MS = 60_000;

export function startNpm(env: NodeJS.ProcessEnv): { proc: ChildProcess; out: () => string; listening: Promise<string> } {
  const proc = spawn(process.execPath, [join(ROOT, 'build/run.mjs'), 'start'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listening = new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no "listening on" line within ${LISTEN_TIMEOUT_MS / 1000} s:\n${out}`)), LISTEN_TIMEOUT_MS);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`npm start exited with ${code}:\n${out}`));
    });
  });
  return { proc, out: () => out, listening };
}

/** Pids of lighttpd processes serving the data root `root` (none may outlive npm start). */
export function lighttpdOf(root: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return argv[0]?.endsWith('lighttpd') && argv.some((a) => a.startsWith(root + '/'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function exited(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((res) => proc.once('exit', (code) => res(code)));
}
