/**
 * The two witnesses of a keyless signature, as small fetch clients (no HTTP stack of their own: the CLI loads
 * ~200 ms less than with @sigstore/sign's make-fetch-happen based ones, and errors map straight to vouch codes).
 *
 * - `RekorV1Witness` logs the signature (Rekor v1 `POST /api/v1/log/entries`: a `hashedrekord` 0.0.1 entry for a
 *   message signature, a `dsse` 0.0.1 entry for an envelope) and returns the bundle's TransparencyLogEntry: body,
 *   signed entry timestamp, inclusion proof with checkpoint.
 * - `Rfc3161Witness` asks the TSA (Sigstore timestamp-authority JSON API, `POST .../api/v1/timestamp`) for an
 *   RFC 3161 timestamp over the SHA-256 of the signature bytes, returned as DER.
 *
 * Answers are checked for shape (hostile input); their cryptographic validity is the verifier's job, and the signing
 * tests run the official verifier over what these produce.
 */
import { createHash } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { envelopeToJSON } from '@sigstore/bundle';
import { decodeBase64 } from '../core/encoding.ts';
import { fetchJson, httpRequest } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import type { SignatureBundle, VerificationMaterial, Witness } from './bundle.ts';

const MAX_ENTRY_ANSWER = 1 << 20;
const MAX_TIMESTAMP = 64 * 1024;

export interface WitnessOptions {
  timeoutMs?: number;
}

export class RekorV1Witness implements Witness {
  readonly #url: string;
  readonly #timeoutMs: number | undefined;

  constructor(baseUrl: string, options: WitnessOptions = {}) {
    this.#url = `${baseUrl.replace(/\/+$/, '')}/api/v1/log/entries`;
    this.#timeoutMs = options.timeoutMs;
  }

  async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
    const proposed = proposedEntry(content, publicKey);
    const answer = await fetchJson(this.#url, 'the transparency log', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(proposed),
      maxBytes: MAX_ENTRY_ANSWER,
      ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
    });
    return { tlogEntries: [toTlogEntry(answer, proposed.kind)] };
  }
}

export class Rfc3161Witness implements Witness {
  readonly #url: string;
  readonly #timeoutMs: number | undefined;

  /** `url` is the full endpoint as a signing config lists it; a bare origin gets `/api/v1/timestamp`. */
  constructor(url: string, options: WitnessOptions = {}) {
    this.#url = new URL(url).pathname === '/' ? `${url.replace(/\/+$/, '')}/api/v1/timestamp` : url;
    this.#timeoutMs = options.timeoutMs;
  }

  async testify(content: SignatureBundle): Promise<VerificationMaterial> {
    const signature =
      content.$case === 'messageSignature'
        ? content.messageSignature.signature
        : content.dsseEnvelope.signatures[0]?.sig;
    if (!signature) throw new VouchError('INTERNAL', 'nothing to timestamp: the bundle has no signature');
    const request = {
      artifactHash: createHash('sha256').update(signature).digest('base64'),
      hashAlgorithm: 'sha256',
    };
    const { body } = await httpRequest(this.#url, 'the timestamp authority', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      maxBytes: MAX_TIMESTAMP,
      ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
    });
    // A TimeStampResp is a DER SEQUENCE (RFC 3161 section 2.4.2); anything else is an error page or garbage.
    if (body.length < 16 || body[0] !== 0x30) {
      throw new VouchError('SERVICE_ERROR', 'the timestamp authority answered something that is not a timestamp');
    }
    return { rfc3161Timestamps: [{ signedTimestamp: body }] };
  }
}

type Proposed =
  | { apiVersion: '0.0.1'; kind: 'hashedrekord'; spec: unknown }
  | { apiVersion: '0.0.1'; kind: 'dsse'; spec: unknown };

/** The Rekor v1 entry for a signature (Rekor's hashedrekord and dsse type schemas, version 0.0.1). */
function proposedEntry(content: SignatureBundle, publicKey: string): Proposed {
  const key = Buffer.from(publicKey, 'utf8').toString('base64');
  switch (content.$case) {
    case 'messageSignature': {
      const digest = content.messageSignature.messageDigest;
      if (!digest) throw new VouchError('INTERNAL', 'a message signature without its digest cannot be logged');
      return {
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: digest.digest.toString('hex') } },
          signature: { content: content.messageSignature.signature.toString('base64'), publicKey: { content: key } },
        },
      };
    }
    case 'dsseEnvelope':
      return {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          proposedContent: { envelope: JSON.stringify(envelopeToJSON(content.dsseEnvelope)), verifiers: [key] },
        },
      };
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Turn Rekor's `{uuid: LogEntry}` answer into the bundle's TransparencyLogEntry, checking every field's shape. */
function toTlogEntry(answer: unknown, kind: string): TransparencyLogEntry {
  const bad = (what: string) => new VouchError('SERVICE_ERROR', `the transparency log answered a bad entry: ${what}`);
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw bad('not an object');
  const values = Object.values(answer);
  if (values.length !== 1) throw bad('not exactly one entry');
  const e = values[0] as Record<string, unknown>;
  if (typeof e !== 'object' || e === null) throw bad('entry is not an object');
  const body = decodeBase64(e.body, 'entry body', 'SERVICE_ERROR');
  let parsed: { kind?: unknown; apiVersion?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('body is not JSON');
  }
  if (parsed.kind !== kind || typeof parsed.apiVersion !== 'string') throw bad('body is not the entry sent');
  if (typeof e.logID !== 'string' || !HEX64.test(e.logID)) throw bad('logID');
  const int = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what);
    return String(v);
  };
  const v = (e.verification ?? {}) as Record<string, unknown>;
  const entry: TransparencyLogEntry = {
    logIndex: int(e.logIndex, 'logIndex'),
    logId: { keyId: Buffer.from(e.logID, 'hex') },
    kindVersion: { kind, version: parsed.apiVersion },
    integratedTime: int(e.integratedTime, 'integratedTime'),
    inclusionPromise: undefined,
    inclusionProof: undefined,
    canonicalizedBody: body,
  };
  if (v.signedEntryTimestamp !== undefined) {
    entry.inclusionPromise = {
      signedEntryTimestamp: decodeBase64(v.signedEntryTimestamp, 'signed entry timestamp', 'SERVICE_ERROR'),
    };
  }
  if (v.inclusionProof !== undefined) {
    const p = v.inclusionProof as Record<string, unknown>;
    if (typeof p.rootHash !== 'string' || !HEX64.test(p.rootHash)) throw bad('inclusion proof root hash');
    if (
      !Array.isArray(p.hashes) ||
      p.hashes.length > 64 ||
      !p.hashes.every((h) => typeof h === 'string' && HEX64.test(h))
    ) {
      throw bad('inclusion proof hashes');
    }
    if (typeof p.checkpoint !== 'string' || p.checkpoint.length > 8192) throw bad('checkpoint');
    entry.inclusionProof = {
      logIndex: int(p.logIndex, 'inclusion proof logIndex'),
      treeSize: int(p.treeSize, 'inclusion proof treeSize'),
      rootHash: Buffer.from(p.rootHash, 'hex'),
      hashes: (p.hashes as string[]).map((h) => Buffer.from(h, 'hex')),
      checkpoint: { envelope: p.checkpoint },
    };
  }
  return entry;
}
