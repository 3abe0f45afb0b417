/**
 * Run a built dist/cgi/<h>.cgi as lighttpd runs it: a separate process with
 * the CGI/1.1 meta-variables in its environment and the body on stdin;
 * parse what it prints ("Status: 200 OK", headers, blank line, body).
 *
 *   const root = await cgiRoot();                       // a fresh RAMVM_ROOT after `ramvm init`
 *   const r = await runCgi('access', { root, method: 'POST', path: '/ticket',
 *                                      json: { username: 'admin', password: ADMIN_PASSWORD } });
 *   r.status === 200; r.json.data.ticket; r.headers['set-cookie']
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST } from '../../build/build';

export const ADMIN_PASSWORD = 'admin-cgi-pw';

export interface CgiCall {
  root: string;
  method?: string;
  /** PATH_INFO below the handler: "/users/anna". */
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent as the body with Content-Type application/json. */
  json?: unknown;
  remoteAddr?: string;
}

export interface CgiReply {
  status: number;
  /** Lower-case names; repeated headers joined with "\n". */
  headers: Record<string, string>;
  text: string;
  json: any;
  stderr: string;
}

/** Environment of a CGI process, as lighttpd builds it (RFC 3875 §4.1). */
export function cgiEnv(c: CgiCall, bodyLength: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'lighttpd/1.4.69',
    REQUEST_METHOD: c.method ?? 'GET',
    PATH_INFO: c.path ?? '/',
    QUERY_STRING: c.query ?? '',
    REMOTE_ADDR: c.remoteAddr ?? '127.0.0.1',
    RAMVM_ROOT: c.root,
    RAMVM_DIST: DIST,
    RAMVM_NODE: 'cginode',
    NODE_OPTIONS: '',
  };
  if (bodyLength > 0) env.CONTENT_LENGTH = String(bodyLength);
  for (const [k, v] of Object.entries(c.headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'content-type') env.CONTENT_TYPE = v;
    else env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = v;
  }
  return env;
}

/** "Status: 201 Created\r\nContent-Type: …\r\n\r\n{…}" → status, headers, body */
export function parseCgiOutput(out: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const end = out.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`CGI printed no header block: ${out.toString('utf8', 0, 200)}`);
  const headers: Record<string, string> = {};
  for (const line of out.toString('utf8', 0, end).split('\r\n')) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}\n${v}`;
  }
  const status = Number(/^(\d{3})/.exec(headers.status ?? '')?.[1] ?? 200);
  return { status, headers, body: out.subarray(end + 4) };
}

export function runCgi(handler: string, c: CgiCall): Promise<CgiReply> {
  let body = c.body ?? Buffer.alloc(0);
  const headers = { ...c.headers };
  if (c.json !== undefined) {
    body = JSON.stringify(c.json);
    headers['content-type'] ??= 'application/json';
  }
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [join(DIST, 'cgi', `${handler}.cgi`)], {
      env: cgiEnv({ ...c, headers }, buf.length),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', rej);
    p.on('close', () => {
      try {
        const r = parseCgiOutput(Buffer.concat(out));
        const text = r.body.toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        res({ status: r.status, headers: r.headers, text, json, stderr: Buffer.concat(err).toString('utf8') });
      } catch (e) {
        rej(new Error(`${(e as Error).message}\nstderr: ${Buffer.concat(err).toString('utf8')}`));
      }
    });
    // A CGI that refuses a request by its headers (413 on CONTENT_LENGTH, a
    // body-less route) exits without reading the body, as lighttpd allows:
    // its stdin closing early is the case under test, not an error of it.
    p.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') rej(e);
    });
    p.stdin.end(buf);
  });
}

/** A fresh data root laid out by the built `ramvm init`, with admin's password set. */
export function cgiRoot(prefix = 'ramvm-cgi-'): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const r = spawnSync(process.execPath, [join(DIST, 'bin/ramvm'), 'init'], {
    env: { ...process.env, RAMVM_ROOT: root, RAMVM_DIST: DIST, RAMVM_ADMIN_PASSWORD: ADMIN_PASSWORD },
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`ramvm init failed: ${r.stderr}`);
  }
  return root;
}

/** Log in through the CGI; returns the headers a browser would send afterwards. */
export async function cgiLogin(root: string, username: string, password: string): Promise<{ cookie: string; csrf: string; ticket: string }> {
  const r = await runCgi('access', { root, method: 'POST', path: '/ticket', json: { username, password } });
  if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${r.text}`);
  return { cookie: `RamvmAuth=${encodeURIComponent(r.json.data.ticket)}`, csrf: r.json.data.csrf, ticket: r.json.data.ticket };
}
