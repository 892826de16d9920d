/** Shared helpers for the server tests: real signed entries, signed-note parsing. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { preAuthEncoding } from '../../src/core/dsse.ts';
import { isVouchError } from '../../src/errors.ts';
import type { StackKey } from '../../src/server/pki.ts';
import type { LogStore } from '../../src/server/store/types.ts';
import { TransparencyLog } from '../../src/server/tlog/log.ts';

export interface Signer {
  privateKey: KeyObject;
  publicKey: KeyObject;
  pemB64: string;
}

export function newSigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  return { privateKey, publicKey, pemB64: Buffer.from(pem).toString('base64') };
}

/** A valid hashedrekord 0.0.1 proposed entry over `data`. */
export function hashedRekord(s: Signer, data: Buffer | string, sigOverride?: Buffer): Record<string, unknown> {
  const digest = createHash('sha256').update(data).digest('hex');
  const sig = sigOverride ?? sign('sha256', Buffer.from(data), s.privateKey);
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest } },
      signature: { content: sig.toString('base64'), publicKey: { content: s.pemB64 } },
    },
  };
}

export function dsseEntry(s: Signer, payload: Buffer, badSig = false): Record<string, unknown> {
  const type = 'application/vnd.in-toto+json';
  const sig = sign('sha256', preAuthEncoding(type, badSig ? Buffer.from('other') : payload), s.privateKey);
  const envelope = JSON.stringify({
    payloadType: type,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: sig.toString('base64') }],
  });
  return { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [s.pemB64] } } };
}

/** Parse a C2SP signed note and verify its one ECDSA signature; returns the checkpoint fields. */
export function verifyCheckpoint(
  note: string,
  logKey: KeyObject,
  logId: Buffer,
): { origin: string; size: number; root: Buffer } {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('no blank line');
  const text = note.slice(0, split + 1);
  const sigLine = /^\u2014 (\S+) (\S+)\n$/.exec(note.slice(split + 2));
  if (!sigLine) throw new Error('bad signature line');
  const blob = Buffer.from(sigLine[2]!, 'base64');
  if (!blob.subarray(0, 4).equals(logId.subarray(0, 4))) throw new Error('key hint mismatch');
  if (!verify('sha256', Buffer.from(text), logKey, blob.subarray(4))) throw new Error('bad checkpoint signature');
  const [origin, size, root] = text.trimEnd().split('\n');
  return { origin: origin!, size: Number(size), root: Buffer.from(root!, 'base64') };
}

/**
 * Issue 10 item 8, for any LogStore: a log records its key when created and refuses to open with another one
 * (LOG_KEY_MISMATCH); a store from before the key was recorded adopts a key only if its first entry's signed entry
 * timestamp verifies with it. `open` gives a fresh handle on one and the same store each time; `forgetKey` deletes
 * the recorded key, as in a store made before it was recorded.
 */
export async function checkKeyPinning(
  open: () => Promise<LogStore>,
  forgetKey: () => Promise<void>,
  keys: { a: StackKey; b: StackKey },
): Promise<void> {
  const signer = newSigner();
  const reopen = async (key: StackKey) => {
    const store = await open();
    try {
      const log = await TransparencyLog.open({ store, key, keyName: 'pin' });
      await log.drain();
    } finally {
      await store.close();
    }
  };
  const mismatch = (e: unknown) => isVouchError(e, 'LOG_KEY_MISMATCH');
  // Created with key A, and one entry logged.
  let store = await open();
  const log = await TransparencyLog.open({ store, key: keys.a, keyName: 'pin' });
  await log.add(hashedRekord(signer, 'pinned'));
  await log.drain();
  await store.close();
  // Another key: refused, every time, and the refusal records nothing.
  await assert.rejects(reopen(keys.b), mismatch);
  await assert.rejects(reopen(keys.b), mismatch);
  await reopen(keys.a);
  // A store from before the key was recorded: the first entry decides.
  await forgetKey();
  await assert.rejects(reopen(keys.b), mismatch);
  await reopen(keys.a);
  await assert.rejects(reopen(keys.b), mismatch);
  store = await open();
  try {
    assert.equal(await store.getMeta('public_key'), keys.a.spki.toString('base64'));
  } finally {
    await store.close();
  }
}

/** A valid intoto 0.0.2 proposed entry, as sigstore-js sends one: payload and signature base64-encoded twice. */
export function intotoEntry(s: Signer, payload: Buffer, badSig = false, publicKey = s.pemB64): Record<string, unknown> {
  const type = 'application/vnd.in-toto+json';
  const sig = sign('sha256', preAuthEncoding(type, badSig ? Buffer.from('other') : payload), s.privateKey);
  const twice = (b: Buffer) => Buffer.from(b.toString('base64')).toString('base64');
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: type, payload: twice(payload), signatures: [{ sig: twice(sig), publicKey }] },
        hash: { algorithm: 'sha256', value: createHash('sha256').update('envelope').digest('hex') },
        payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      },
    },
  };
}
