/**
 * The public face of vm/: everything other folders (handlers, console,
 * backups, restores, the CLI) use of guests comes from here, and the layer
 * test refuses imports that pass by it. Most of it takes a guest handle,
 * resolved once from a VMID:
 *
 *   import { openGuest, startVm, vmStatus } from '../vm';
 *   const g = openGuest(101);          // config, files, node, pid; 404 when missing
 *   await startVm(g);                  // 409 when it runs, lives elsewhere or would overcommit
 *   g.files.vnc                        // run/ramvm/qemu/101.vnc (VNC unix socket)
 *   diskPath(101, g.config.disks[0])   // var/lib/vz/images/101/vm-101-disk-0.qcow2
 */
export type * from './types';
export { findGuest, guestOf, mustLiveHere, openGuest, pidNow, runningPid } from './guest';
export { findVmConfig, listVmConfigs, updateVmConfig, writeVmConfig } from './config';
export { diskPath, vmFiles } from './files';
export { isGuestOfNode, parsePidfile, vmStatus } from './status';
export { launchGuest, writePidRecord, type TapHooks } from './launch';
export {
  beingStarted, checkedForStart, clearEnded, endGuestProcess, endIncoming, incomingConfigFile, patchStartedConfig, runningGuests, startIncoming, pauseVm, qmpCommand, readRunInfo,
  refuseIfCrashed, resetVm, resumeVm, shutdownVm, startVm, stopVm, updateRunInfo,
  waitStopped,
} from './power';
export { chooseAccel, hostAccel } from './accel';
export {
  addDisk, changeCdrom, checkCreate, claimVmid, checkDeletable, createVm, deleteVm, dropClaim, dropGuestFiles, removeDisk, replicateDisk, updateDisk, updateVm, usedVmids,
} from './manage';
export { directIoSupported, existingBridges, randomMac } from './host';
export { netPlan, pendingChanges, tapName } from './qemu-args';
export { diskUsage, guestResources } from './resources';
export { nodeResources } from './node-resources';
export { readSetupLog, type SetupLog } from './setup-log';
export { parseMeminfo } from './resources';
export { claimMigration, lockHolder, migrationHolder, refuseIfMigrating, releaseMigration } from './migration-lock';
export { checkSettingsPatch, readNodeSettings, updateNodeSettings } from './settings';
export { bootGuests, VM_TASK_KINDS } from './tasks';
export { parseCdrom, parseDiskAdd, parseDiskChange, parseListQuery, parseShutdown, SHUTDOWN_TIMEOUT_MAX_S, type ShutdownRequest } from './requests';
export { checkVmConfig, diskFileName, NICS_MAX, type Issue, type ValidationFacts, type VmCreateCheck } from './validate';
