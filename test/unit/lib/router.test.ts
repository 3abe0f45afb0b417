import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { fillPath, matchPath, matchRoute, type Route } from '../../../node-cgi/lib/cgi';
import { HttpError } from '../../../node-cgi/lib/errors';
import { normalisePath } from '../../../node-cgi/lib/request';

const M = suite('matchPath');
M('should bind named params', () => {
  assert.equal(matchPath('/:vmid/start', '/101/start'), { vmid: '101' });
});
M('should match the root only with an empty path', () => {
  assert.equal(matchPath('/', '/'), {});
  assert.is(matchPath('/', '/101'), null);
});
M('should reject extra and missing segments', () => {
  assert.is(matchPath('/:vmid', '/101/start'), null);
  assert.is(matchPath('/:vmid/start', '/101'), null);
});
M('should decode percent-escapes in params', () => {
  assert.equal(matchPath('/:name', '/a%20b.iso'), { name: 'a b.iso' });
});
M('should answer 400 for a malformed percent-escape', () => {
  try {
    matchPath('/:name', '/%E0.iso');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 400);
  }
});
M('should collect the rest with a star param', () => {
  assert.equal(matchPath('/files/*rest', '/files/a/b'), { rest: 'a/b' });
});
M.run();

const R = suite('matchRoute');
const noop = () => null;
const routes: Route[] = [
  { method: 'GET', path: '/', perm: 'authenticated', handle: noop },
  { method: 'POST', path: '/', perm: 'authenticated', handle: noop },
  { method: 'GET', path: '/:vmid', perm: 'authenticated', handle: noop },
];
R('should answer 404 for an unknown path', () => {
  try {
    matchRoute(routes, 'GET', '/101/x');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HttpError);
    assert.is((e as HttpError).status, 404);
  }
});
R('should answer 405 naming the allowed methods', () => {
  try {
    matchRoute(routes, 'DELETE', '/');
    assert.unreachable();
  } catch (e) {
    assert.is((e as HttpError).status, 405);
    assert.match((e as HttpError).message, 'GET, POST');
  }
});
R.run();

const F = suite('fillPath');
F('should fill params into an ACL path', () => {
  assert.is(fillPath('/vms/:vmid', { vmid: '101' }), '/vms/101');
});
F('should refuse a param with a slash', () => {
  assert.throws(() => fillPath('/vms/:vmid', { vmid: '1/2' }), /^route param vmid missing for \/vms\/:vmid$/);
});
F.run();

const N = suite('normalisePath');
N('should collapse empty and trailing segments', () => {
  assert.is(normalisePath(''), '/');
  assert.is(normalisePath('/101/'), '/101');
  assert.is(normalisePath('//a///b'), '/a/b');
});
N.run();
