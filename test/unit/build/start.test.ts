import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { startRoot, SEPARATED_FALLBACK_ROOT } from '../../../build/start';

const R = suite('startRoot');
const closedRoot = (p: string) => (p.startsWith('/root/') ? '/root is closed to other users' : null);
R('should take RAMVM_ROOT as given, also from a checkout the node\'s user cannot reach', () => {
  assert.equal(startRoot('/srv/ramvm', '/root/ramvm', true, closedRoot), { root: '/srv/ramvm' });
});
R('should keep ./var of a checkout the node\'s user can reach', () => {
  assert.equal(startRoot(undefined, '/srv/ramvm', true, closedRoot), { root: '/srv/ramvm/var' });
});
R('should keep ./var when not started by root: nothing is separated', () => {
  assert.equal(startRoot(undefined, '/root/ramvm', false, closedRoot), { root: '/root/ramvm/var' });
});
R('should move the data of a separated node out of a checkout below /root, and say why', () => {
  assert.equal(startRoot(undefined, '/root/ramvm', true, closedRoot), { root: SEPARATED_FALLBACK_ROOT, why: '/root is closed to other users' });
  assert.is(SEPARATED_FALLBACK_ROOT, '/var/lib/ramvm');
});
R.run();
