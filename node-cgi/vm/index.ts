/**
 * What other features use of guests: configs, files, status and power
 * actions. Backups, console, ISO and migration import from here.
 *
 *   import { readVmConfig, vmStatus, vmFiles, diskPath } from '../vm';
 *   const cfg = readVmConfig(101);                 // 404 HttpError when missing
 *   const { status } = await vmStatus(101);        // "running" | "paused" | "stopped"
 *   vmFiles(101).vnc                               // run/ramvm/qemu/101.vnc (VNC unix socket)
 *   diskPath(101, cfg.disks[0])                     // var/lib/vz/images/101/vm-101-disk-0.qcow2
 */
export { findVmConfig, listVmConfigs, listVmids, readVmConfig, updateVmConfig } from './config';
export { diskPath, isoPath, vmFiles, type VmFiles } from './files';
export { guestPid, vmStatus } from './status';
export { qmpCommand, readRunInfo, shutdownVm, startVm, stopVm, waitStopped, pauseVm, resumeVm } from './power';
export type * from './types';
