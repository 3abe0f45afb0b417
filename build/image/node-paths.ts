/**
 * Where ramvm, its root helper and its servers live on a node, and the PATH
 * of its processes: constants the image build (files.ts re-exports them) and
 * code that runs on the node share. Apart from files.ts's lists of the
 * build machine's programs, so the node's own bundles (the root helper's
 * has a size budget) carry these few lines and not those lists.
 */

/** Where ramvm itself lives in the root. */
export const NODE_RAMVM_DIR = '/opt/ramvm';
/** The build output (www, cgi, bin) on a node; RAMVM_DIST there. */
export const NODE_DIST = `${NODE_RAMVM_DIR}/dist`;
/** The command the node's one sudoers line allows (node-cgi/root/setup.ts), written at build time and registered at boot. */
export const NODE_ROOT_HELPER = { node: '/usr/bin/node', helper: `${NODE_DIST}/bin/ramvm-root` } as const;
/** PATH of every process on a node (CGIs included). */
export const NODE_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/**
 * lighttpd's own errors on a node. lighttpd opens it after it became
 * ramvm, so the set-up makes it ramvm's beforehand, in a folder only root
 * may write (ramvm cannot swap it for a link), not in the node's
 * var/log/ramvm. The CGIs' stderr goes to the console (inittab).
 */
export const NODE_LIGHTTPD_ERRORLOG = '/var/log/lighttpd-error.log';
/** Where a node's lighttpd config lies: root's, in RAM, read by root at every (re)start (rootfs/etc/inittab). */
export const NODE_LIGHTTPD_CONF = '/etc/lighttpd/ramvm.conf';
/** Port of the web UI and API on a node (HTTPS, with the node's own certificate). */
export const NODE_PORT = 8006;
/** Port of the node-to-node cluster socket (HTTPS), where a node's peers look for it. */
export const NODE_CLUSTER_PORT = NODE_PORT + 1;
/** Plain HTTP on a node: only a redirect to the UI over HTTPS, for an address typed into a browser. */
export const NODE_HTTP_PORT = 80;
