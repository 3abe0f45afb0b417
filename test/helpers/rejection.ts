/**
 * The error a promise rejects with, checked to be of a type; a promise that
 * resolves fails the test.
 *
 *   const e = await rejection(run(['false']), ExecError);   // e: ExecError
 */
import * as assert from 'uvu/assert';

export async function rejection<T extends Error>(p: Promise<unknown>, type: abstract new (...args: any[]) => T): Promise<T> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, type);
    return e as T;
  }
  throw new assert.Assertion({ message: `expected a rejection with ${type.name}, but it resolved`, generated: false, operator: 'rejection' } as never);
}
