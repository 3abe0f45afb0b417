/**
 * A prepared cluster in the lab (`npm run lab -- --cluster`, the image
 * test and its benchmark): the lab's nodes as `npm run image -- --cluster lab
 * --node 1:10.99.0.1/24 --node 2:10.99.0.2/24` would prepare them, each
 * booted from the kernel and one initrd: the image's initrd.img followed by
 * the node's prepared cpio (what GRUB does with the ISO's two initrds).
 */
import { appendFileSync, chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPreparedImages, type ImageBuild } from '../image/image';
import type { ClusterImageArgs } from '../image/prepared';
import { LAB_NET_PREFIX } from './node-vm';

/** The lab cluster's name; its nodes are node1, node2 … at 10.99.0.N/24. */
export const LAB_CLUSTER = 'lab';

export function labClusterArgs(nodes: number): ClusterImageArgs {
  return {
    cluster: LAB_CLUSTER,
    nodes: Array.from({ length: nodes }, (_, i) => ({ index: i + 1, name: `node${i + 1}`, address: `${LAB_NET_PREFIX}${i + 1}`, prefix: 24 })),
  };
}

/** Each node's initrd (initrd.img ++ its prepared cpio) in `dir`, 0600: it holds the cluster's secret. */
export function preparedLabInitrds(base: ImageBuild, dir: string, nodes: number): string[] {
  const files = buildPreparedImages(labClusterArgs(nodes), base, dir, { iso: false });
  return files.map((f) => {
    const out = join(dir, `initrd-${f.name}.img`);
    copyFileSync(base.initrd, out);
    chmodSync(out, 0o600);
    appendFileSync(out, readFileSync(f.cpio));
    return out;
  });
}
