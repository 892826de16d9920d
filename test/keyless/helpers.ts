/** Shared test helpers: real signed JWTs (jose), temp homes, and error-code assertions. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import type { KeylessOptions } from '../../src/instance/session.ts';
import { signTarget } from '../../src/workflow/sign.ts';

const keys = await generateKeyPair('ES256');

export async function makeToken(
  claims: Record<string, unknown>,
  options: { expiresIn?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: 'sigstore', ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(keys.privateKey);
}

export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<VouchError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof VouchError, `expected VouchError ${code}, got ${(e as Error)?.stack ?? e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

export function throwsWith(fn: () => unknown, code: ErrorCode): VouchError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VouchError, `expected VouchError ${code}, got ${(e as Error)?.stack ?? e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

export function tempHome(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Keyless `sign()` of the public API (the workflow opens and closes the session and writes the bundle); the keyless
 * members of its result are checked present so tests can read them directly.
 */
export async function signKeyless(target: string, o: KeylessOptions & { bundle?: string; force?: boolean } = {}) {
  const { bundle, force, ...keyless } = o;
  const r = await signTarget(target, {
    keyless,
    ...(bundle !== undefined ? { bundle } : {}),
    ...(force ? { force } : {}),
  });
  const { identity, issuer, identitySource, localDevelopmentIdentity, instance, certificate, timings } = r;
  assert.ok(identity !== undefined && issuer !== undefined && identitySource !== undefined, 'a keyless result');
  assert.ok(localDevelopmentIdentity !== undefined && instance !== undefined && certificate && timings);
  return { ...r, identity, issuer, identitySource, localDevelopmentIdentity, instance, certificate, timings };
}
