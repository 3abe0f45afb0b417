/**
 * Sending a mail as the node's mail settings say (config.ts): piped into
 * the fixed sendmail program, or handed to the SMTP relay (smtp.ts). No
 * setting is a command line: the program and its arguments are constants.
 *
 *   sendMail(["it@example.com"], text)
 *   → transport "sendmail": /usr/sbin/sendmail -t -oi < text   (recipients from the headers)
 *   → transport "smtp":     MAIL FROM:<from> RCPT TO:<it@example.com> DATA text
 */
import { existsSync } from 'node:fs';
import { run } from '../lib/exec';
import { HttpError } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { SENDMAIL, SENDMAIL_ARGV, readMailSettings, readSmtpPassword } from './config';
import { smtpSend } from './smtp';
import { isMailAddress } from './validate';

/** Time sendmail may take to take a message. */
export const SENDMAIL_TIMEOUT_MS = 60_000;

/** The name this node gives itself in EHLO: its name when that is a host name. */
export function heloName(node: string): string {
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(node) ? node : 'localhost';
}

/** Send `text` (headers and body, LF line ends) to `to`; throws when the MTA or relay does not take it. */
export async function sendMail(to: readonly string[], text: string): Promise<void> {
  const s = readMailSettings();
  const rcpt = to.filter(isMailAddress);
  if (s.transport === 'smtp' && s.smtp) {
    await smtpSend(s.smtp, readSmtpPassword(), { from: s.from, to: rcpt, helo: heloName(nodeName()) }, text);
    return;
  }
  sendmailPresent();
  await run(SENDMAIL_ARGV, { input: text, timeoutMs: SENDMAIL_TIMEOUT_MS });
}

/**
 * Throws saying what to do when this node has no sendmail program: the node
 * image ships no MTA, so its mail goes through an SMTP relay (smtp.ts).
 */
export function sendmailPresent(exists: (path: string) => boolean = existsSync): void {
  if (!exists(SENDMAIL)) {
    throw new HttpError('exec_failed', `this node has no ${SENDMAIL} (no mail server installed; the node image has none): set an SMTP relay for the node's mail ("transport": "smtp", Backups → Mail)`);
  }
}
