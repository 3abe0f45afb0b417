import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { bootPlan } from '../../../node-cgi/vm/tasks';
import type { VmConfig } from '../../../node-cgi/vm/types';

const cfg = (vmid: number, onboot: boolean, node = 'pve1') => ({ vmid, onboot, node }) as VmConfig;

const B = suite('bootPlan');
B("should start this node's onboot guests in VMID order", () => {
  assert.equal(bootPlan([cfg(300, true), cfg(101, true), cfg(150, false), cfg(120, true, 'pve2'), cfg(200, true)], 'pve1'), [101, 200, 300]);
});
B('should plan nothing without onboot guests', () => {
  assert.equal(bootPlan([cfg(101, false)], 'pve1'), []);
});
B.run();
