/**
 * Answers every /api/ path that names no handler, so scripts always get a
 * JSON error: GET /api/nothing → 404 {"error": {"code": "not_found", …}}.
 */
import { errorResponse, writeHead } from '../lib/cgi';
import { notFound } from '../lib/errors';

if (require.main === module) {
  const path = process.env.PATH_INFO || '/';
  const { status, headers, body } = errorResponse(notFound(`no such API path: /api${path}`), { method: process.env.REQUEST_METHOD ?? 'GET', path });
  writeHead(process.stdout, status, headers);
  process.stdout.write(body);
}
