/**
 * /api/iso: the ISO library (install media for guests).
 *
 *   GET    /api/iso              [{name, size, sha256, date, user, from?, usedBy: [{vmid, name?}]}]   Datastore.Audit on /iso
 *            ?node=<name>: that node's library (in a cluster)
 *   GET    /api/iso/<name>       one image (?node= as above)                                          Datastore.Audit on /iso
 *   PUT    /api/iso/<name>       the raw image as body → 201 {the image, task?}                        Datastore.Upload on /iso
 *            ?sha256=<hex> or X-Ramvm-SHA256: verified before the image becomes visible (400 if not)
 *            ?replace=1: replace an existing image unless a guest uses it (409)
 *   DELETE /api/iso/<name>       → 204 (X-Ramvm-Task: the task); 409 while a guest uses it            Datastore.Upload on /iso
 *            ?node=<name>: only that node's copy (in a cluster)
 *
 * In a cluster the library is the master's: an upload or delete sent to a
 * member goes to the master (503 naming it while it does not answer), and
 * the master's task "iso-distribute" (iso/distribute.ts) repeats it on every
 * node; `task` (and the X-Ramvm-Task header) names that task.
 *
 * Between nodes (signed by the master; HTTPS on the cluster socket only):
 *   GET    /api/iso/cluster              this node's library: [{name, size, sha256, from, usedBy: [vmid]}]
 *   PUT    /api/iso/cluster/<name>?sha256=…&user=…&uploaded=…   the master's copy, stored as an upload with ?replace=1 → 201
 *   DELETE /api/iso/cluster/<name>       the master no longer has it → 204
 *
 * A guest's name in `usedBy` is shown only to users who may see that guest.
 */
import { closeSync, openSync } from 'node:fs';
import { Reply, runCgi } from '../lib/cgi';
import { forbidden, invalid } from '../lib/errors';
import { checkNodeHere, clusterDispatch, forwardedHere } from '../cluster/dispatch';
import { requireCluster } from '../cluster/members';
import { verifiedPeer } from '../cluster/receive';
import { UNSIGNED_PAYLOAD } from '../cluster/sign';
import { readCluster } from '../cluster/state';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { checkedIsoName } from '../iso/names';
import { imageExists, listImages, readImage, removeImage, type IsoImage } from '../iso/library';
import { parseUploadRequest, receiveUpload, type UploadRequest } from '../iso/upload';
import { distribute } from '../iso/distribute';
import { nodeImages, parseCopyRequest } from '../iso/sync';

const AUDIT = { path: '/iso', priv: 'Datastore.Audit' } as const;
const UPLOAD = { path: '/iso', priv: 'Datastore.Upload' } as const;

function visibleTo(ctx: ApiContext, image: IsoImage): IsoImage {
  return {
    ...image,
    usedBy: image.usedBy.map((g) => (ctx.can(`/vms/${g.vmid}`, 'VM.Audit') ? g : { vmid: g.vmid })),
  };
}

/**
 * The body is read from a blocking descriptor of our own: node has made
 * fd 0 non-blocking for process.stdin, and a fresh open of the same pipe
 * through /proc gets its own flags (process.stdin, never started, has read
 * nothing from it).
 */
function openBody(): number {
  return openSync('/proc/self/fd/0', 'r');
}

/** Receive the request's body into the library as `req` says. */
function receive(req: UploadRequest): IsoImage {
  const bodyFd = openBody();
  try {
    return receiveUpload(req, bodyFd);
  } finally {
    closeSync(bodyFd);
  }
}

/**
 * A user's upload (on the master, or on a node in no cluster). A body
 * another node passed on whole was signed with its SHA-256: it must be
 * what arrives.
 */
function upload(ctx: ApiContext) {
  const name = checkedIsoName(ctx.params.name);
  let req = parseUploadRequest(name, ctx.req, ctx.me.username);
  const signedHash = forwardedHere(ctx) ? verifiedPeer(ctx.req).bodyHash : UNSIGNED_PAYLOAD;
  if (signedHash !== UNSIGNED_PAYLOAD) {
    if (req.expectedSha256 !== null && req.expectedSha256 !== signedHash) {
      throw invalid('sha256', `the upload's SHA-256 is ${signedHash}, not the expected ${req.expectedSha256}; nothing was stored`);
    }
    req = { ...req, expectedSha256: signedHash };
  }
  const image = receive(req);
  const task = distribute(name, ctx.me.username);
  ctx.headers.push(['Location', `/api/iso/${encodeURIComponent(name)}`]);
  if (task) ctx.headers.push(['X-Ramvm-Task', task]);
  return new Reply(201, task ? { ...image, task } : image);
}

function remove(ctx: ApiContext) {
  const name = checkedIsoName(ctx.params.name);
  checkNodeHere(ctx);
  removeImage(name);
  const task = distribute(name, ctx.me.username);
  if (task) ctx.headers.push(['X-Ramvm-Task', task]);
  return new Reply(204, null);
}

/** A route between nodes: only this node's master sends it (signed; 401 for anyone else). */
function fromMaster(handle: (ctx: ApiContext, master: string) => unknown): ApiRoute['handle'] {
  return (ctx) => {
    const from = verifiedPeer(ctx.req).node;
    const c = requireCluster();
    if (from !== c.master) throw forbidden(`only the master ${c.master} sends ISO images to this node, not ${from}`);
    return handle(ctx, from);
  };
}

/** ?node=<name>: that node's library (in a cluster, the request goes there). */
const NODE_OF_QUERY = { node: (ctx: ApiContext) => ctx.req.query.get('node') };
/** ?node=<name>: that node's copy; else the cluster's image, which the master keeps. */
const NODE_OR_MASTER = { node: (ctx: ApiContext) => ctx.req.query.get('node') ?? readCluster()?.master ?? null };

export const routes: ApiRoute[] = [
  // Between nodes first: "cluster" is no image name, but GET /:name would match it.
  { method: 'GET', path: '/cluster', perm: 'public', handle: fromMaster(() => nodeImages(listImages())) },
  {
    method: 'PUT',
    path: '/cluster/:name',
    perm: 'public',
    body: 'raw',
    handle: fromMaster((ctx, master) => new Reply(201, receive(parseCopyRequest(ctx.params.name, ctx.req.query, ctx.req.contentLength, master)))),
  },
  {
    method: 'DELETE',
    path: '/cluster/:name',
    perm: 'public',
    body: 'none',
    handle: fromMaster((ctx) => {
      const name = checkedIsoName(ctx.params.name);
      if (imageExists(name)) removeImage(name);
      return new Reply(204, null);
    }),
  },
  {
    method: 'GET',
    path: '/',
    perm: AUDIT,
    home: NODE_OF_QUERY,
    handle: (ctx) => {
      checkNodeHere(ctx);
      return listImages().map((i) => visibleTo(ctx, i));
    },
  },
  {
    method: 'GET',
    path: '/:name',
    perm: AUDIT,
    home: NODE_OF_QUERY,
    handle: (ctx) => {
      const name = checkedIsoName(ctx.params.name);
      checkNodeHere(ctx);
      return visibleTo(ctx, readImage(name));
    },
  },
  { method: 'PUT', path: '/:name', perm: UPLOAD, body: 'raw', home: 'master', handle: upload },
  { method: 'DELETE', path: '/:name', perm: UPLOAD, body: 'none', home: NODE_OR_MASTER, handle: remove },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
