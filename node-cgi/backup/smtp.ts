/**
 * A small SMTP client (RFC 5321) over node:net and node:tls, for the mail
 * of backup jobs through a relay configured as data: host, port, how the
 * connection is secured, and a login. Nothing of it is a command line.
 *
 *   ← 220 mail.example.com ESMTP
 *   → EHLO pve1                      ← 250-mail.example.com 250-STARTTLS 250 AUTH PLAIN LOGIN
 *   → STARTTLS                       ← 220 go ahead          (TLS from here; EHLO again)
 *   → AUTH PLAIN AHJhbXZtAHNlY3JldA==  ← 235 ok              (PLAIN when offered, else LOGIN)
 *   → MAIL FROM:<ramvm@pve1>         ← 250
 *   → RCPT TO:<it@example.com>       ← 250
 *   → DATA                           ← 354   the message, dot-stuffed, CRLF, "."
 *   → QUIT                           ← 221
 *
 * A password is never sent over a connection that is not encrypted. The
 * relay's certificate is checked against the system's CAs and its name, or,
 * when `fingerprint` is set (a relay with a certificate of its own making),
 * must have exactly that SHA-256. A failure throws HttpError "exec_failed"
 * that says which step failed; the relay's own words go to `said` (task logs).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { AnswerQueue } from '../lib/answers';
import { HttpError } from '../lib/errors';

/** Time to connect, and for each reply of the relay. */
export const SMTP_CONNECT_TIMEOUT_MS = 15_000;
export const SMTP_REPLY_TIMEOUT_MS = 60_000;
/** Longest reply accepted (a relay that talks without end is cut off). */
const SMTP_REPLY_MAX_BYTES = 64 * 1024;

export type SmtpSecurity = 'starttls' | 'tls' | 'none';

export interface SmtpRelay {
  host: string;
  port: number;
  /** starttls: plain, then STARTTLS (587); tls: TLS from the start (465); none: never encrypted (no login then). */
  security: SmtpSecurity;
  username?: string;
  /** SHA-256 of the relay's certificate, "AB:CD:…" (openssl x509 -fingerprint -sha256): pinned instead of the CAs. */
  fingerprint?: string;
}

export interface Envelope {
  from: string;
  to: readonly string[];
  /** This node's name for EHLO. */
  helo: string;
}

/** One reply: its code and its text lines ("250-a", "250 b" → 250, ["a", "b"]). */
export interface SmtpReply {
  code: number;
  lines: string[];
}

/**
 * The replies complete in `buf`, and what is left. A reply is lines of
 * "NNN-text" closed by one "NNN text" (RFC 5321 §4.2.1):
 *
 *   parseReplies("250-a\r\n250 b\r\n220") → { replies: [{ code: 250, lines: ["a", "b"] }], rest: "220" }
 */
export function parseReplies(buf: string): { replies: SmtpReply[]; rest: string } {
  const replies: SmtpReply[] = [];
  let lines: string[] = [];
  // Where the reply not yet complete begins: its lines are read again with the rest.
  let open = 0;
  let at = 0;
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n', at)) {
    const line = buf.slice(at, nl).replace(/\r$/, '');
    const m = /^([2-5][0-9][0-9])([ -]?)(.*)$/.exec(line);
    if (!m) throw new Error(`not an SMTP reply line: ${line.slice(0, 80)}`);
    lines.push(m[3]!);
    at = nl + 1;
    if (m[2] !== '-') {
      replies.push({ code: Number(m[1]), lines });
      lines = [];
      open = at;
    }
  }
  return { replies, rest: buf.slice(open) };
}

/** The message as DATA sends it: CRLF line ends, a leading "." doubled, ended by CRLF "." CRLF. */
export function dataBlock(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.\r\n';
}

/** AUTH PLAIN's one argument: base64 of "\0user\0password" (RFC 4616). */
export function authPlain(username: string, password: string): string {
  return Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
}

/** EHLO's keywords, upper case: ["STARTTLS", "AUTH PLAIN LOGIN", "8BITMIME", …] (the first line is the greeting). */
export function ehloKeywords(r: SmtpReply): string[] {
  return r.lines.slice(1).map((l) => l.trim().toUpperCase());
}

/** The AUTH mechanism to use: PLAIN when offered, else LOGIN, else null. */
export function authMechanism(keywords: readonly string[]): 'PLAIN' | 'LOGIN' | null {
  const auth = keywords.find((k) => k.startsWith('AUTH ') || k.startsWith('AUTH='));
  const offered = auth ? auth.slice(5).split(/\s+/) : [];
  return offered.includes('PLAIN') ? 'PLAIN' : offered.includes('LOGIN') ? 'LOGIN' : null;
}

/** "ab:cd:…" or "ABCD…" → "AB:CD:…" as node's fingerprint256 shows it. */
export function normalFingerprint(f: string): string {
  const hex = f.replace(/^sha256[:=]?/i, '').replace(/:/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

/** A line-oriented connection that hands out one reply at a time. */
class Conversation {
  private buf = '';
  private readonly replies = new AnswerQueue<SmtpReply>();

  constructor(
    private sock: Socket | TLSSocket,
    private readonly fail: (what: string, said?: string) => HttpError,
    private readonly replyTimeoutMs: number,
  ) {
    this.attach(sock);
  }

  private attach(sock: Socket | TLSSocket): void {
    sock.on('data', (chunk: Buffer) => {
      // latin1: one byte, one character, so a chunk cut inside a character breaks nothing.
      this.buf += chunk.toString('latin1');
      if (this.buf.length > SMTP_REPLY_MAX_BYTES) {
        this.replies.fail(this.fail('the relay sent a reply too long to be one'));
        return;
      }
      try {
        const { replies, rest } = parseReplies(this.buf);
        this.buf = rest;
        this.replies.push(...replies);
      } catch (e) {
        this.replies.fail(this.fail('the relay does not speak SMTP', (e as Error).message));
      }
    });
    sock.on('error', (e) => this.replies.fail(this.fail('the connection failed', e.message)));
    sock.on('close', () => this.replies.fail(this.fail('the relay closed the connection')));
  }

  /** The next reply, within SMTP_REPLY_TIMEOUT_MS (a reply later than that goes to the next step). */
  reply(step: string): Promise<SmtpReply> {
    return this.replies.next(this.replyTimeoutMs, () => new HttpError('timeout', `mail relay: no answer to ${step} within ${this.replyTimeoutMs / 1000} s`));
  }

  /** Send a line (or DATA's block) and expect one of `codes`. */
  async send(text: string, step: string, codes: readonly number[]): Promise<SmtpReply> {
    this.sock.write(text);
    return this.expect(step, codes);
  }

  async expect(step: string, codes: readonly number[]): Promise<SmtpReply> {
    const r = await this.reply(step);
    if (!codes.includes(r.code)) throw this.fail(`the relay refused ${step} (${r.code})`, `${r.code} ${r.lines.join(' ')}`);
    return r;
  }

  /** Carry on over TLS on the same connection (after STARTTLS's 220). */
  async upgrade(secure: (plain: Socket) => Promise<TLSSocket>): Promise<void> {
    const plain = this.sock as Socket;
    plain.removeAllListeners('data').removeAllListeners('error').removeAllListeners('close');
    this.sock = await secure(plain);
    this.buf = '';
    this.attach(this.sock);
  }

  end(): void {
    this.sock.removeAllListeners('close');
    this.sock.on('error', () => undefined);
    this.sock.end();
    this.sock.destroy();
  }
}

/** The TLS options for the relay: the CAs and its name, or its pinned certificate. */
function tlsCheck(relay: SmtpRelay) {
  const servername = isIP(relay.host) ? undefined : relay.host;
  return relay.fingerprint ? { servername, rejectUnauthorized: false } : { servername, rejectUnauthorized: true };
}

function secured(relay: SmtpRelay, s: TLSSocket, fail: (what: string, said?: string) => HttpError): TLSSocket {
  if (relay.fingerprint) {
    const got = s.getPeerCertificate()?.fingerprint256 ?? '';
    if (got !== normalFingerprint(relay.fingerprint)) {
      s.destroy();
      throw fail('the relay\'s certificate is not the one pinned', `its SHA-256 is ${got || 'unknown'}`);
    }
  }
  return s;
}

function openTls(relay: SmtpRelay, fail: (what: string, said?: string) => HttpError, timeoutMs: number, socket?: Socket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(fail(`no TLS within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const base = tlsCheck(relay);
    const s: TLSSocket = socket
      ? tlsConnect({ ...base, socket })
      : tlsConnect({ ...base, host: relay.host, port: relay.port });
    s.once('secureConnect', () => {
      clearTimeout(timer);
      try {
        resolve(secured(relay, s, fail));
      } catch (e) {
        reject(e);
      }
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(fail('TLS failed', e.message));
    });
  });
}

function openPlain(relay: SmtpRelay, fail: (what: string, said?: string) => HttpError, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: relay.host, port: relay.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(fail(`no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(fail('it cannot be reached', e.message));
    });
  });
}

/** Time limits of one sending (tests shorten them). */
export interface SmtpTimeouts {
  connectMs?: number;
  replyMs?: number;
}

/** Send one message through the relay; resolves when the relay has taken it (250 after DATA). */
export async function smtpSend(relay: SmtpRelay, password: string | null, env: Envelope, text: string, t: SmtpTimeouts = {}): Promise<void> {
  const connectMs = t.connectMs ?? SMTP_CONNECT_TIMEOUT_MS;
  const fail = (what: string, said?: string) => {
    const e = new HttpError('exec_failed', `mail relay ${relay.host}:${relay.port}: ${what}`, said);
    if (said) e.said = said;
    return e;
  };
  if (relay.username && relay.security === 'none') throw fail('a login is never sent over an unencrypted connection; use starttls or tls');
  const sock = relay.security === 'tls' ? await openTls(relay, fail, connectMs) : await openPlain(relay, fail, connectMs);
  const c = new Conversation(sock, fail, t.replyMs ?? SMTP_REPLY_TIMEOUT_MS);
  try {
    await c.expect('the greeting', [220]);
    let ehlo = await c.send(`EHLO ${env.helo}\r\n`, 'EHLO', [250]);
    if (relay.security === 'starttls') {
      if (!ehloKeywords(ehlo).includes('STARTTLS')) throw fail('it offers no STARTTLS');
      await c.send('STARTTLS\r\n', 'STARTTLS', [220]);
      await c.upgrade((plain) => openTls(relay, fail, connectMs, plain));
      ehlo = await c.send(`EHLO ${env.helo}\r\n`, 'EHLO', [250]);
    }
    const keywords = ehloKeywords(ehlo);
    if (relay.username) {
      const mech = authMechanism(keywords);
      if (!mech) throw fail('it offers no login this client can use (AUTH PLAIN or LOGIN)');
      if (mech === 'PLAIN') {
        await c.send(`AUTH PLAIN ${authPlain(relay.username, password ?? '')}\r\n`, 'the login', [235]);
      } else {
        await c.send('AUTH LOGIN\r\n', 'the login', [334]);
        await c.send(`${Buffer.from(relay.username).toString('base64')}\r\n`, 'the login', [334]);
        await c.send(`${Buffer.from(password ?? '').toString('base64')}\r\n`, 'the login', [235]);
      }
    }
    const body8 = keywords.includes('8BITMIME') ? ' BODY=8BITMIME' : '';
    await c.send(`MAIL FROM:<${env.from}>${body8}\r\n`, 'the sender', [250]);
    for (const to of env.to) await c.send(`RCPT TO:<${to}>\r\n`, `the recipient ${to}`, [250, 251]);
    await c.send('DATA\r\n', 'DATA', [354]);
    await c.send(dataBlock(text), 'the message', [250]);
    await c.send('QUIT\r\n', 'QUIT', [221]).catch(() => undefined);
  } finally {
    c.end();
  }
}
