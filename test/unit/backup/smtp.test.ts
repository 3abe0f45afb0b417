/**
 * The SMTP client: its pure parts as tables, and smtpSend against a real
 * SMTP server on 127.0.0.1 (test/helpers/smtp-server.ts): plain, STARTTLS
 * with a self-signed certificate, TLS from the start, AUTH PLAIN and LOGIN,
 * and relays that refuse, hang up, say nothing or show another certificate.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { HttpError, explain } from '../../../node-cgi/lib/errors';
import {
  authMechanism, authPlain, dataBlock, ehloKeywords, normalFingerprint, parseReplies, smtpSend, type SmtpRelay,
} from '../../../node-cgi/backup/smtp';
import { rejection } from '../../helpers/rejection';
import { selfSignedCert, startSmtpServer, type Cert, type SmtpServer, type SmtpServerOptions } from '../../helpers/smtp-server';

const P = suite('parseReplies');
// [buffer, replies, rest, why]
const REPLIES: [string, { code: number; lines: string[] }[], string, string][] = [
  ['220 mail ESMTP\r\n', [{ code: 220, lines: ['mail ESMTP'] }], '', 'a one-line reply'],
  ['250-mail\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n', [{ code: 250, lines: ['mail', 'STARTTLS', 'AUTH PLAIN'] }], '', 'a multi-line reply'],
  ['250-mail\r\n250-STA', [], '250-mail\r\n250-STA', 'a reply cut in the middle waits for the rest'],
  ['250 ok\r\n354 go', [{ code: 250, lines: ['ok'] }], '354 go', 'a second reply not yet complete'],
  ['250 ok\n', [{ code: 250, lines: ['ok'] }], '', 'a bare LF'],
  ['250\r\n', [{ code: 250, lines: [''] }], '', 'a code without text'],
];
for (const [buf, replies, rest, why] of REPLIES) {
  P(`should read ${JSON.stringify(buf)}: ${why}`, () => {
    assert.equal(parseReplies(buf), { replies, rest });
  });
}
P('should refuse a line that is no SMTP reply', () => {
  assert.throws(() => parseReplies('HTTP/1.1 400 Bad Request\r\n'), /not an SMTP reply line: HTTP\/1\.1/);
});
P.run();

const D = suite('dataBlock, authPlain, authMechanism, normalFingerprint, ehloKeywords');
D('should end the message with CRLF "." CRLF, CRLF throughout, a leading dot doubled', () => {
  assert.is(dataBlock('Subject: x\n\n.\n..a\nb\n'), 'Subject: x\r\n\r\n..\r\n...a\r\nb\r\n.\r\n');
  assert.is(dataBlock('a\r\nb'), 'a\r\nb\r\n.\r\n');
});
D('should encode AUTH PLAIN as base64 of NUL user NUL password (RFC 4616)', () => {
  assert.is(authPlain('ramvm', 'secret'), Buffer.from('\0ramvm\0secret').toString('base64'));
  assert.is(authPlain('ramvm', 'secret'), 'AHJhbXZtAHNlY3JldA==');
});
// [EHLO keywords, mechanism, why]
const MECHS: [string[], 'PLAIN' | 'LOGIN' | null, string][] = [
  [['AUTH PLAIN LOGIN'], 'PLAIN', 'PLAIN first'],
  [['AUTH LOGIN CRAM-MD5'], 'LOGIN', 'LOGIN when no PLAIN'],
  [['AUTH=LOGIN'], 'LOGIN', 'the old AUTH= form'],
  [['AUTH CRAM-MD5'], null, 'none this client knows'],
  [['STARTTLS'], null, 'no AUTH at all'],
];
for (const [kw, mech, why] of MECHS) D(`should pick ${mech} from ${JSON.stringify(kw)}: ${why}`, () => assert.is(authMechanism(kw), mech));
D('should write a fingerprint as node shows it', () => {
  const want = Array(32).fill('AB').join(':');
  for (const f of ['ab'.repeat(32), want.toLowerCase(), `sha256:${want}`, `SHA256=${'AB'.repeat(32)}`]) assert.is(normalFingerprint(f), want, f);
});
D('should take the keywords after the greeting line, upper case', () => {
  assert.equal(ehloKeywords({ code: 250, lines: ['mail greets', 'starttls', '8BITMIME'] }), ['STARTTLS', '8BITMIME']);
});
D.run();

const S = suite('smtpSend');
let cert: Cert;
let other: Cert;
const servers: SmtpServer[] = [];
S.before(() => {
  cert = selfSignedCert();
  other = selfSignedCert();
});
S.after.each(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(o: SmtpServerOptions): Promise<SmtpServer> {
  const s = await startSmtpServer(o);
  servers.push(s);
  return s;
}

const ENV = { from: 'ramvm@pve1', to: ['it@example.com'], helo: 'pve1' };
const TEXT = 'From: ramvm@pve1\nTo: it@example.com\nSubject: ramvm backup FAILED\n\n.a line that starts with a dot\nend\n';
const SENT = 'From: ramvm@pve1\r\nTo: it@example.com\r\nSubject: ramvm backup FAILED\r\n\r\n.a line that starts with a dot\r\nend\r\n';
const FAST = { connectMs: 5_000, replyMs: 1_500 };

/** The HttpError a sending rejects with. */
const refusal = (p: Promise<unknown>) => rejection(p, HttpError);

S('should deliver over a plain connection without login, the message byte for byte', async () => {
  const srv = await server({});
  await smtpSend({ host: '127.0.0.1', port: srv.port, security: 'none' }, null, ENV, TEXT, FAST);
  assert.equal(srv.messages, [{ from: 'ramvm@pve1', to: ['it@example.com'], data: SENT, user: null, tls: false }]);
  assert.ok(srv.lines.includes('MAIL FROM:<ramvm@pve1> BODY=8BITMIME'), srv.lines.join(' | '));
});

S('should switch to TLS with STARTTLS, check the pinned certificate, and log in with AUTH PLAIN', async () => {
  const srv = await server({ starttls: cert, auth: { username: 'ramvm', password: 'pw 1 ü' } });
  const relay: SmtpRelay = { host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm', fingerprint: cert.fingerprint };
  await smtpSend(relay, 'pw 1 ü', ENV, TEXT, FAST);
  assert.equal(srv.messages.map((m) => [m.user, m.tls, m.data]), [['ramvm', true, SENT]]);
  assert.ok(srv.lines.some((l) => l.startsWith('AUTH PLAIN ')), 'PLAIN, offered first');
  assert.is(srv.lines.indexOf('STARTTLS') < srv.lines.findIndex((l) => l.startsWith('AUTH')), true, 'the login only after STARTTLS');
});

S('should log in with AUTH LOGIN where the relay offers only that', async () => {
  const srv = await server({ starttls: cert, auth: { username: 'ramvm', password: 'secret', mechanisms: ['LOGIN'] } });
  await smtpSend({ host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm', fingerprint: cert.fingerprint }, 'secret', ENV, TEXT, FAST);
  assert.equal(srv.messages.map((m) => m.user), ['ramvm']);
  assert.ok(srv.lines.includes('AUTH LOGIN'));
});

S('should speak TLS from the first byte (security tls)', async () => {
  const srv = await server({ tls: cert, auth: { username: 'ramvm', password: 'secret' } });
  await smtpSend({ host: '127.0.0.1', port: srv.port, security: 'tls', username: 'ramvm', fingerprint: cert.fingerprint }, 'secret', ENV, TEXT, FAST);
  assert.equal(srv.messages.map((m) => [m.user, m.tls]), [['ramvm', true]]);
});

S('should send to every recipient', async () => {
  const srv = await server({});
  await smtpSend({ host: '127.0.0.1', port: srv.port, security: 'none' }, null, { ...ENV, to: ['a@example.com', 'b@example.com'] }, TEXT, FAST);
  assert.equal(srv.messages[0]!.to, ['a@example.com', 'b@example.com']);
});

S('should refuse a certificate other than the pinned one, before any password is sent', async () => {
  const srv = await server({ starttls: other, auth: { username: 'ramvm', password: 'secret' } });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm', fingerprint: cert.fingerprint }, 'secret', ENV, TEXT, FAST));
  assert.match(e.message, /certificate is not the one pinned/);
  assert.not.ok(srv.lines.some((l) => l.startsWith('AUTH')), 'no login was sent');
  assert.equal(srv.messages, []);
});

S('should refuse a self-signed certificate when none is pinned (the system\'s CAs decide)', async () => {
  const srv = await server({ starttls: cert, auth: { username: 'ramvm', password: 'secret' } });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm' }, 'secret', ENV, TEXT, FAST));
  assert.match(e.message, /TLS failed/);
  assert.match(e.said ?? '', /self.signed/i);
  assert.not.ok(srv.lines.some((l) => l.startsWith('AUTH')));
});

S('should refuse to go on without TLS when the relay offers no STARTTLS', async () => {
  const srv = await server({ auth: { username: 'ramvm', password: 'secret' } });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm' }, 'secret', ENV, TEXT, FAST));
  assert.match(e.message, /offers no STARTTLS/);
  assert.not.ok(srv.lines.some((l) => l.startsWith('AUTH')), 'the password never went in clear');
});

S('should never send a login over an unencrypted connection', async () => {
  const srv = await server({ auth: { username: 'ramvm', password: 'secret' } });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port: srv.port, security: 'none', username: 'ramvm' }, 'secret', ENV, TEXT, FAST));
  assert.match(e.message, /a login is never sent over an unencrypted connection/);
  assert.equal(srv.lines, []);
});

// [what the relay does, options, message, the relay's words that stay out of the message]
const FAILURES: [string, SmtpServerOptions, RegExp, string | null][] = [
  ['refuses the login', { starttls: undefined, auth: { username: 'ramvm', password: 'other' } }, /refused the login \(535\)$/, 'authentication credentials invalid'],
  ['refuses the recipient', { refuse: { step: 'RCPT', reply: '550 5.1.1 <it@example.com>: user unknown' } }, /refused the recipient it@example\.com \(550\)$/, 'user unknown'],
  ['refuses the sender', { refuse: { step: 'MAIL', reply: '553 5.7.1 sender rejected' } }, /refused the sender \(553\)$/, 'sender rejected'],
  ['refuses the message', { refuse: { step: 'message', reply: '554 5.7.1 spam' } }, /refused the message \(554\)$/, 'spam'],
  ['greets with 554', { refuse: { step: 'greeting', reply: '554 go away' } }, /refused the greeting \(554\)$/, 'go away'],
  ['hangs up after EHLO', { hangUpAt: 'EHLO' }, /closed the connection$/, null],
  ['hangs up during DATA', { hangUpAt: 'DATA' }, /closed the connection$/, null],
];
for (const [what, o, message, said] of FAILURES) {
  S(`should fail, saying which step, when the relay ${what}; its own words only in said`, async () => {
    const tlsFirst = !!o.auth;
    const srv = await server(tlsFirst ? { ...o, starttls: cert } : o);
    const relay: SmtpRelay = tlsFirst
      ? { host: '127.0.0.1', port: srv.port, security: 'starttls', username: 'ramvm', fingerprint: cert.fingerprint }
      : { host: '127.0.0.1', port: srv.port, security: 'none' };
    const e = await refusal(smtpSend(relay, 'secret', ENV, TEXT, FAST));
    assert.equal([e.status, e.code], [500, 'exec_failed']);
    assert.match(e.message, new RegExp(`^mail relay 127\\.0\\.0\\.1:${srv.port}: `));
    assert.match(e.message, message);
    if (said) {
      assert.not.match(e.message, said);
      assert.match(explain(e), said);
    }
    assert.equal(srv.messages, []);
  });
}

S('should give up on a relay that says nothing', async () => {
  const srv = await server({ silent: true });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port: srv.port, security: 'none' }, null, ENV, TEXT, FAST));
  assert.equal([e.status, e.message], [504, 'mail relay: no answer to the greeting within 1.5 s']);
});

S('should say so when nothing listens', async () => {
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const e = await refusal(smtpSend({ host: '127.0.0.1', port, security: 'none' }, null, ENV, TEXT, FAST));
  assert.match(e.message, /cannot be reached$/);
  assert.match(e.said ?? '', /ECONNREFUSED/);
});
S.run();
