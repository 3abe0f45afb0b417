/**
 * /api/restore: guests running from a backup (restore-on-the-fly) and the
 * bootable backup medium. The routes live in restore/routes.ts, beside the
 * block that backup.cgi serves under /api/backup.
 *
 *   GET  /api/restore                  guests running from a backup
 *   POST /api/restore/<vmid>/link      {up}: connect or unplug their network cards (VM.Config)
 *   POST /api/restore/<vmid>/keep      {bwlimit?} → 202 live restore task (VM.Allocate)
 *   POST /api/restore/clean            delete stopped temporary guests nobody watches (VM.Allocate on /vms)
 *   GET|PUT /api/restore/medium        {image}: rescue image copied by backup jobs (Datastore.*)
 */
import { runCgi } from '../lib/cgi';
import { clusterDispatch } from '../cluster/dispatch';
import { authorizer } from '../auth/authorize';
import { RESTORE_ROUTES } from '../restore/routes';

export const routes = RESTORE_ROUTES;

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
