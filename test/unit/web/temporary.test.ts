import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { formatTime } from '../../../web/format';
import { setLang } from '../../../web/i18n';
import { backupTime, temporaryText } from '../../../web/views/backups/temporary';
import type { TemporaryMark } from '../../../node-cgi/vm/types';

const MARK: TemporaryMark = { backup: 'local:101:20261125T220000Z', source: 101, purpose: 'run', since: 1795643300000, formats: { disk0: 'qcow2' } };

const B = suite('backupTime');
B("should read the time from a backup id's stamp", () => {
  assert.is(backupTime('local:101:20261125T220000Z'), Date.UTC(2026, 10, 25, 22, 0, 0));
  assert.is(backupTime('usb-disk:2001:20270101T000102Z'), Date.UTC(2027, 0, 1, 0, 1, 2));
});
B('should give null for an id without a stamp', () => {
  assert.is(backupTime('local:101:latest'), null);
});
B.run();

const T = suite('temporaryText');
T.before(() => setLang('en'));
T('should say from which backup the guest runs, its network, and that it is discarded', () => {
  const when = formatTime(Date.UTC(2026, 10, 25, 22, 0, 0));
  assert.is(temporaryText(MARK, true), `From the backup of guest 101 of ${when} · network unplugged · discarded when it stops`);
  assert.match(temporaryText(MARK, false), '· network connected ·');
});
T("should call a boot check's sandbox what it is", () => {
  assert.match(temporaryText({ ...MARK, purpose: 'bootcheck' }, true), /^Boot check of the backup of guest 101 of .*: no network, deleted when the check ends$/);
});
T.run();
