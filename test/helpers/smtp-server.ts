/**
 * A tiny SMTP server on 127.0.0.1 for tests: it speaks just enough of RFC
 * 5321 (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT) to take
 * mail from a real client, records every message, and can be told to
 * refuse a step. A self-signed certificate for its TLS comes from openssl.
 *
 *   const cert = selfSignedCert();
 *   const srv = await startSmtpServer({ starttls: cert, auth: { username: 'ramvm', password: 'pw' } });
 *   … send to 127.0.0.1:srv.port …
 *   srv.messages[0] → { from: "ramvm@pve1", to: ["it@example.com"], data: "Subject: …", user: "ramvm", tls: true }
 *   await srv.close();
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createSecureContext } from 'node:tls';

export interface Cert {
  key: string;
  cert: string;
  /** "AB:CD:…", as node's fingerprint256. */
  fingerprint: string;
}

/** A throw-away self-signed certificate for CN=localhost. */
export function selfSignedCert(): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-smtp-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The message as sent, dot-stuffing undone, CRLF line ends. */
  data: string;
  /** Who logged in, if anyone. */
  user: string | null;
  /** Whether the message came over TLS. */
  tls: boolean;
}

export type SmtpStep = 'greeting' | 'EHLO' | 'MAIL' | 'RCPT' | 'DATA' | 'message';

export interface SmtpServerOptions {
  /** Offer STARTTLS with this certificate. */
  starttls?: Cert;
  /** TLS from the first byte (port 465 style). */
  tls?: Cert;
  /** Require a login; the mechanisms offered (default PLAIN and LOGIN). */
  auth?: { username: string; password: string; mechanisms?: ('PLAIN' | 'LOGIN')[] };
  /** Answer this step with an error reply (e.g. RCPT: "550 no such user"). */
  refuse?: { step: SmtpStep; reply: string };
  /** Close the connection instead of answering this step. */
  hangUpAt?: SmtpStep;
  /** Say nothing at all (a relay that hangs). */
  silent?: boolean;
}

export interface SmtpServer {
  port: number;
  messages: ReceivedMail[];
  /** Every command line the server read, in order (AUTH arguments included: for tests of what was sent). */
  lines: string[];
  close(): Promise<void>;
}

export async function startSmtpServer(o: SmtpServerOptions = {}): Promise<SmtpServer> {
  const messages: ReceivedMail[] = [];
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    if (o.silent) return;
    let sock: Socket = raw;
    let tls = false;
    if (o.tls) {
      sock = new TLSSocket(raw, { isServer: true, secureContext: createSecureContext({ key: o.tls.key, cert: o.tls.cert }) });
      sock.on('error', () => undefined);
      tls = true;
    }
    let buf = '';
    let user: string | null = null;
    let from = '';
    let to: string[] = [];
    let data: string[] | null = null;
    let login: 'user' | 'password' | null = null;
    let loginUser = '';
    const say = (text: string) => sock.write(`${text}\r\n`);
    const refused = (step: SmtpStep): boolean => {
      if (o.hangUpAt === step) {
        sock.destroy();
        return true;
      }
      if (o.refuse?.step === step) {
        say(o.refuse.reply);
        return true;
      }
      return false;
    };
    const ehlo = () => {
      const mechs = o.auth?.mechanisms ?? ['PLAIN', 'LOGIN'];
      const ext = ['8BITMIME', ...(o.starttls && !tls ? ['STARTTLS'] : []), ...(o.auth ? [`AUTH ${mechs.join(' ')}`] : [])];
      const all = ['test.smtp greets you', ...ext];
      all.forEach((l, i) => say(`250${i === all.length - 1 ? ' ' : '-'}${l}`));
    };
    const checkLogin = (u: string, p: string) => {
      if (o.auth && u === o.auth.username && p === o.auth.password) {
        user = u;
        say('235 2.7.0 authenticated');
      } else say('535 5.7.8 authentication credentials invalid');
    };
    const onLine = (line: string) => {
      if (data) {
        if (line === '.') {
          const text = data.join('\r\n') + '\r\n';
          data = null;
          if (refused('message')) return;
          messages.push({ from, to, data: text, user, tls });
          say('250 2.0.0 queued');
          return;
        }
        data.push(line.startsWith('..') ? line.slice(1) : line);
        return;
      }
      lines.push(line);
      if (login === 'user') {
        loginUser = Buffer.from(line, 'base64').toString();
        login = 'password';
        say('334 UGFzc3dvcmQ6');
        return;
      }
      if (login === 'password') {
        login = null;
        checkLogin(loginUser, Buffer.from(line, 'base64').toString());
        return;
      }
      const [verb = '', ...rest] = line.split(' ');
      const arg = rest.join(' ');
      switch (verb.toUpperCase()) {
        case 'EHLO':
          if (!refused('EHLO')) ehlo();
          return;
        case 'STARTTLS': {
          if (!o.starttls || tls) return void say('502 5.5.1 not offered');
          say('220 2.0.0 ready to start TLS');
          sock.removeAllListeners('data');
          const secure = new TLSSocket(sock, { isServer: true, secureContext: createSecureContext({ key: o.starttls.key, cert: o.starttls.cert }) });
          secure.on('error', () => undefined);
          sock = secure;
          tls = true;
          buf = '';
          sock.on('data', onData);
          return;
        }
        case 'AUTH': {
          if (!o.auth) return void say('502 5.5.1 not offered');
          const [mech, initial] = arg.split(' ');
          if (mech === 'PLAIN' && initial) {
            const [, u = '', p = ''] = Buffer.from(initial, 'base64').toString().split('\0');
            return checkLogin(u, p);
          }
          if (mech === 'LOGIN') {
            login = 'user';
            return void say('334 VXNlcm5hbWU6');
          }
          return void say('504 5.5.4 unrecognized authentication type');
        }
        case 'MAIL':
          if (refused('MAIL')) return;
          if (o.auth && !user) return void say('530 5.7.0 authentication required');
          from = /<([^>]*)>/.exec(arg)?.[1] ?? '';
          to = [];
          return void say('250 2.1.0 ok');
        case 'RCPT':
          if (refused('RCPT')) return;
          to.push(/<([^>]*)>/.exec(arg)?.[1] ?? '');
          return void say('250 2.1.5 ok');
        case 'DATA':
          if (refused('DATA')) return;
          data = [];
          return void say('354 end with <CR><LF>.<CR><LF>');
        case 'QUIT':
          say('221 2.0.0 bye');
          sock.end();
          return;
        default:
          say('500 5.5.2 unknown command');
      }
    };
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        onLine(line);
      }
    };
    sock.on('data', onData);
    if (!refused('greeting')) say('220 test.smtp ESMTP ready');
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    messages,
    lines,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
