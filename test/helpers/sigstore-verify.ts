/**
 * Runs the official sigstore-js verifier (@sigstore/verify) on the same inputs as ours, as an independent oracle
 * for tests and as the baseline of bench/verify.ts. Test and benchmark code only: vouch itself never loads it.
 *
 * Known limits of the oracle (so callers can tell "it rejects" from "it cannot say"):
 * - a message signature needs the artifact bytes (no digest-only verification): reported as `unsupported`;
 * - it does not check that an in-toto statement's subjects include the artifact (callers that want that compare
 *   subjects themselves).
 */
import { createPublicKey } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { trustedRootJson } from '../../src/core/trustroot.ts';

/** A trusted root with no authority at all: what the oracle needs for key-pair bundles without log or timestamp. */
export const EMPTY_ROOT = JSON.stringify(trustedRootJson({}));

export type OracleVerdict =
  | { ok: true }
  | { ok: false; code: string; message: string }
  | { ok: 'unsupported'; reason: string };

export interface OracleOptions {
  trustedRootJson: string;
  /** PEM public key for key-pair bundles (returned for any key hint). */
  keyPem?: string;
  tlogThreshold?: number;
  /** Embedded SCTs required (default 1 keyless, 0 for keys); 0 for instances without CT logs. */
  ctlogThreshold?: number;
  /** Signed times required (default 0 for keys, 1 keyless). */
  timestampThreshold?: number;
}

export interface OraclePolicy {
  /** A string is an *unanchored* pattern to sigstore-js (policy.ts: `signerIdentity.match(policyIdentity)`). */
  identity?: string | RegExp;
  issuer?: string;
  /** Certificate extensions that must be present with exactly these DER value bytes (dotted OID, value). */
  oids?: [string, Buffer][];
}

/** Build once (trust material parsing), verify many: the shape the benchmark needs. */
export function createSigstoreJsVerifier(options: OracleOptions) {
  const root = TrustedRoot.fromJSON(JSON.parse(options.trustedRootJson));
  const keyPem = options.keyPem;
  const trust = keyPem
    ? toTrustMaterial(root, () => ({ publicKey: createPublicKey(keyPem), validFor: () => true }))
    : toTrustMaterial(root);
  const verifier = new Verifier(trust, {
    tlogThreshold: options.tlogThreshold ?? (keyPem ? 0 : 1),
    ctlogThreshold: options.ctlogThreshold ?? (keyPem ? 0 : 1),
    // A key-pair bundle need not carry any signed time; keyless ones need one (log or TSA).
    timestampThreshold: options.timestampThreshold ?? (keyPem ? 0 : 1),
  });
  return (bundleJson: string, artifact: Buffer | undefined, policy: OraclePolicy = {}): OracleVerdict => {
    let bundle: ReturnType<typeof bundleFromJSON>;
    try {
      bundle = bundleFromJSON(JSON.parse(bundleJson));
    } catch (e) {
      return { ok: false, code: 'BUNDLE_MALFORMED', message: (e as Error).message };
    }
    if (bundle.content.$case === 'messageSignature' && !artifact) {
      return { ok: 'unsupported', reason: 'sigstore-js verifies message signatures only over the artifact bytes' };
    }
    try {
      const p: {
        subjectAlternativeName?: string | RegExp;
        extensions?: { issuer: string };
        oids?: { oid: { id: number[] }; value: Buffer }[];
      } = {};
      if (policy.identity !== undefined) p.subjectAlternativeName = policy.identity;
      if (policy.issuer !== undefined) p.extensions = { issuer: policy.issuer };
      if (policy.oids) p.oids = policy.oids.map(([oid, value]) => ({ oid: { id: oid.split('.').map(Number) }, value }));
      verifier.verify(toSignedEntity(bundle, artifact), p);
      return { ok: true };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { ok: false, code: err.code ?? (e as Error).name, message: err.message ?? String(e) };
    }
  };
}

/** One-shot convenience wrapper. */
export function sigstoreJsVerify(
  options: OracleOptions & OraclePolicy & { bundleJson: string; artifact?: Buffer },
): OracleVerdict {
  let v: ReturnType<typeof createSigstoreJsVerifier>;
  try {
    v = createSigstoreJsVerifier(options);
  } catch (e) {
    return { ok: false, code: 'TRUST_ROOT_INVALID', message: (e as Error).message };
  }
  const policy: OraclePolicy = {};
  if (options.identity !== undefined) policy.identity = options.identity;
  if (options.issuer !== undefined) policy.issuer = options.issuer;
  return v(options.bundleJson, options.artifact, policy);
}
