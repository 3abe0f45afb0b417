/**
 * /api/iso: the ISO library (install media for guests).
 *
 *   GET    /api/iso              [{name, size, sha256, date, user, usedBy: [{vmid, name?}]}]   Datastore.Audit on /iso
 *   GET    /api/iso/<name>       one image                                                   Datastore.Audit on /iso
 *   PUT    /api/iso/<name>       the raw image as body → 201 {the image}                     Datastore.Upload on /iso
 *            ?sha256=<hex> or X-Ramvm-SHA256: verified before the image becomes visible (400 if not)
 *            ?replace=1: replace an existing image unless a guest uses it (409)
 *   DELETE /api/iso/<name>       → 204; 409 while a guest uses it                            Datastore.Upload on /iso
 *
 * A guest's name in `usedBy` is shown only to users who may see that guest.
 */
import { closeSync, openSync } from 'node:fs';
import { Reply, runCgi } from '../lib/cgi';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { checkedIsoName } from '../iso/names';
import { listImages, readImage, removeImage, type IsoImage } from '../iso/library';
import { parseUploadRequest, receiveUpload } from '../iso/upload';
import { distribute } from '../iso/distribute';

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

function upload(ctx: ApiContext) {
  const name = checkedIsoName(ctx.params.name);
  const req = parseUploadRequest(name, ctx.req, ctx.me.username);
  const bodyFd = openBody();
  let image: IsoImage;
  try {
    image = receiveUpload(req, bodyFd);
  } finally {
    closeSync(bodyFd);
  }
  const task = distribute(name);
  ctx.headers.push(['Location', `/api/iso/${encodeURIComponent(name)}`]);
  return new Reply(201, task ? { ...image, task } : image);
}

function remove(ctx: ApiContext) {
  const name = checkedIsoName(ctx.params.name);
  removeImage(name);
  distribute(name);
  return new Reply(204, null);
}

export const routes: ApiRoute[] = [
  { method: 'GET', path: '/', perm: AUDIT, handle: (ctx) => listImages().map((i) => visibleTo(ctx, i)) },
  { method: 'GET', path: '/:name', perm: AUDIT, handle: (ctx) => visibleTo(ctx, readImage(checkedIsoName(ctx.params.name))) },
  { method: 'PUT', path: '/:name', perm: UPLOAD, handle: upload },
  { method: 'DELETE', path: '/:name', perm: UPLOAD, handle: remove },
];

if (require.main === module) runCgi(routes, authorizer);
