/**
 * Where a guest's files are. Config in etc/ramvm/vms, disks in
 * var/lib/vz/images/<vmid>/, runtime files in run/ramvm/qemu:
 *
 *   101.pid          QEMU's pid, written by its launcher (vm/launch.ts)
 *   101.qmp          QMP socket for work (power actions, CD changes, backups)
 *   101.status.qmp   QMP socket for status probes only (never waits behind work)
 *   101.qga          the QEMU guest agent's channel (only with `agent`; qemu/qga.ts speaks it)
 *   101.vnc          VNC on a unix socket (-vnc unix:…), bridged by the console CGI
 *   101.serial.log   the guest's first serial port (COM1), truncated at each start
 *   101.run.json     what the guest was started with (accelerator, network modes)
 *   101.cpu.json     last CPU sample, for the CPU % between two reads
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestConfigFile, guestImagesDir, guestRunFile } from '../lib/paths';
import type { DiskConfig, VmFiles } from './types';

export type { VmFiles };

export function vmFiles(vmid: number): VmFiles {
  const run = (ext: string) => guestRunFile(vmid, ext);
  return {
    config: guestConfigFile(vmid),
    imagesDir: guestImagesDir(vmid),
    pid: run('pid'),
    qmp: run('qmp'),
    statusQmp: run('status.qmp'),
    agent: run('qga'),
    vnc: run('vnc'),
    serialLog: run('serial.log'),
    runInfo: run('run.json'),
    cpuSample: run('cpu.json'),
  };
}

/** Runtime files a stopped guest must not leave behind (QEMU itself removes only its QMP sockets and the agent's). */
export function runtimeFiles(f: VmFiles): string[] {
  return [f.pid, f.qmp, f.statusQmp, f.agent, f.vnc, f.runInfo, f.cpuSample];
}

/** Absolute path of a disk image. */
export function diskPath(vmid: number, disk: Pick<DiskConfig, 'file'>): string {
  return join(guestImagesDir(vmid), disk.file);
}

/**
 * Write a runtime file of run/ramvm: temp file + rename, so a reader sees
 * the old or the new content, but without fsync. Runtime files describe
 * processes that a reboot ends anyway (run/ is a tmpfs on a node), and a
 * start or a list must not wait for the disk.
 */
export function writeRunJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A runtime file's JSON; undefined when it is missing or unreadable. */
export function readRunJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
