// Types of build/packages.mjs (plain JS, see there).
export interface Package {
  name: string;
  /** Purposes that need it (keys of PackageList.purposes); none: a prerequisite of everything. */
  for: string[];
  /** Files that show it is installed, its programs among them. */
  files: string[];
  /** Programs it provides as busybox applets (run on a node of the image). */
  applets?: string[];
  why: string;
}
export interface PackageList {
  about: string;
  purposes: Record<string, string>;
  commands: Record<string, string[]>;
  packages: Package[];
  /** Programs the code may spawn that no package on the list provides, with the reason. */
  notPackaged: Record<string, string>;
}
export function readPackages(root: string): PackageList;
export function packagesOf(list: PackageList, command: string): Package[];
export function missingPackages(list: PackageList, command: string, exists?: (path: string) => boolean): string[];
export function installArgv(names: string[]): string[];
