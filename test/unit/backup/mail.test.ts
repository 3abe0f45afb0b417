import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { mailDue, mailMessage, mailSubject, type MailInput } from '../../../node-cgi/backup/mail';
import { sendmailPresent } from '../../../node-cgi/backup/mailer';

const input = (over: Partial<MailInput> = {}): MailInput => ({
  to: 'it@example.com', from: 'ramvm@pve1', node: 'pve1', job: 'nightly', task: '20261125T220000Z-backup-x-abcdef', ok: false, error: null,
  results: [
    { vmid: 101, ok: true, mode: 'snapshot/live', size: 1288490189, durationMs: 42_000, message: 'verified local:101:20261125T220000Z' },
    { vmid: 102, ok: false, mode: 'stop', size: null, durationMs: 3_000, message: 'qemu-img: No space left on device' },
  ],
  logTail: ['2026-11-25T22:00:01Z copy started', '2026-11-25T22:00:04Z TASK FAILED: 1 of 2 guest backup(s) failed'],
  date: new Date('2026-11-25T22:05:00Z'), ...over,
});

const S = suite('mailSubject');
S('should shout FAILED with the count of failed guests', () => {
  assert.is(mailSubject(input()), 'ramvm backup FAILED on pve1: job nightly (1 of 2 guests failed)');
});
S('should name a failure of the whole job when no guest was tried', () => {
  assert.is(mailSubject(input({ results: [], error: 'storage usb: no device with filesystem label B1 is connected' })),
    'ramvm backup FAILED on pve1: job nightly (storage usb: no device with filesystem label B1 is connected)');
});
S('should say ok on success, and "manual backup" without a job', () => {
  assert.is(mailSubject(input({ ok: true, job: null })), 'ramvm backup ok on pve1: manual backup (2 guests)');
});
S('should add the count of replicated disks in trouble, to a success too', () => {
  assert.is(mailSubject(input({ ok: true, replicaWarnings: ['vm-101-disk-0 (guest 101): disconnected from pve2 (WFConnection): writes are not replicated'] })),
    'ramvm backup ok on pve1: job nightly (2 guests); 1 REPLICATED DISK IN TROUBLE');
  assert.is(mailSubject(input({ replicaWarnings: ['a', 'b'] })), 'ramvm backup FAILED on pve1: job nightly (1 of 2 guests failed); 2 REPLICATED DISKS IN TROUBLE');
});
S('should keep a line break in an error out of the header', () => {
  assert.not.match(mailSubject(input({ results: [], error: 'a\nBcc: x@evil.example' })), '\n');
});
S.run();

const M = suite('mailMessage');
M('should write headers, a table per guest and the log tail', () => {
  const text = mailMessage(input());
  const [head, body] = [text.split('\n\n')[0]!, text.slice(text.indexOf('\n\n') + 2)];
  assert.equal(head.split('\n'), [
    'From: ramvm@pve1',
    'To: it@example.com',
    'Subject: ramvm backup FAILED on pve1: job nightly (1 of 2 guests failed)',
    'Date: Wed, 25 Nov 2026 22:05:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'X-Ramvm-Task: 20261125T220000Z-backup-x-abcdef',
  ]);
  assert.match(body, 'THE BACKUP FAILED');
  assert.match(body, 'guest  result  mode           size     time  message\n101    ok      snapshot/live  1.2 GiB  42 s  verified local:101:20261125T220000Z\n102    FAILED  stop           -        3 s   qemu-img: No space left on device');
  assert.match(body, 'Last 2 lines of the log:\n  2026-11-25T22:00:01Z copy started\n  2026-11-25T22:00:04Z TASK FAILED');
});
M('should list the replicated disks in trouble above the table', () => {
  const body = mailMessage(input({ ok: true, replicaWarnings: ['vm-101-disk-0 (guest 101): this node\'s copy is Outdated'] }));
  assert.match(body, 'REPLICATED DISKS IN TROUBLE (the guest\'s data is on one node only):\n  vm-101-disk-0 (guest 101): this node\'s copy is Outdated\n\nguest  result');
});
M('should name no replicated disks when none is in trouble', () => {
  assert.not.match(mailMessage(input()), 'REPLICATED');
});
M.run();

const D = suite('mailDue');
D('should mail a failure always, a success only when asked', () => {
  assert.is(mailDue(false, false, []), true);
  assert.is(mailDue(true, false, []), false);
  assert.is(mailDue(true, true, []), true);
});
D('should mail a quiet success when a replicated disk is in trouble', () => {
  assert.is(mailDue(true, false, ['vm-101-disk-0 (guest 101): disconnected from pve2 (StandAlone: …)']), true);
});
D.run();


const P = suite('sendmailPresent');
P('should say to set an SMTP relay on a node without a sendmail program', () => {
  assert.throws(() => sendmailPresent(() => false), /this node has no \/usr\/sbin\/sendmail .*set an SMTP relay for the node's mail \("transport": "smtp"/);
});
P('should pass where an MTA installed it', () => {
  sendmailPresent((p) => p === '/usr/sbin/sendmail');
});
P.run();
