/**
 * The two documents a Sigstore instance publishes, built as the protobuf-specs messages (sigstore_trustroot.proto)
 * and serialized by their own `toJSON`, so member names, enum spellings, byte and time encodings are the spec's:
 * a TrustedRoot (the CAs, logs and TSAs a verifier trusts) and a SigningConfig v0.2 (the services a signer uses).
 * Loading @sigstore/protobuf-specs costs ~100 ms, so verification never imports this module: it reads these
 * documents with its own strict parsers (src/verify/trust.ts, src/instance/signingconfig.ts).
 */
import {
  type CertificateAuthority,
  HashAlgorithm,
  PublicKeyDetails,
  type Service,
  ServiceSelector,
  SigningConfig,
  type TransparencyLogInstance,
  TrustedRoot,
} from '@sigstore/protobuf-specs';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

/** A certificate authority or timestamp authority: its chain as DER, the issuing certificate first. */
export interface AuthorityInput {
  subject: { organization: string; commonName: string };
  uri: string;
  chain: Uint8Array[];
  start: Date;
  end?: Date;
}

/** A transparency log (or CT log): its SPKI DER key and log id (key id, or C2SP note key id for Rekor v2). */
export interface LogInput {
  baseUrl: string;
  publicKey: Uint8Array;
  keyDetails: 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ED25519';
  logId: Uint8Array;
  start: Date;
  end?: Date;
}

export interface TrustedRootInput {
  certificateAuthorities?: AuthorityInput[];
  tlogs?: LogInput[];
  ctlogs?: LogInput[];
  timestampAuthorities?: AuthorityInput[];
}

/** TrustedRoot JSON (protobuf JSON: empty lists are left out, as every reader accepts). */
export function trustedRootJson(input: TrustedRootInput): Record<string, unknown> {
  const root: TrustedRoot = {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    certificateAuthorities: (input.certificateAuthorities ?? []).map(authority),
    tlogs: (input.tlogs ?? []).map(log),
    ctlogs: (input.ctlogs ?? []).map(log),
    timestampAuthorities: (input.timestampAuthorities ?? []).map(authority),
  };
  return TrustedRoot.toJSON(root) as Record<string, unknown>;
}

function authority(a: AuthorityInput): CertificateAuthority {
  return {
    subject: a.subject,
    uri: a.uri,
    certChain: { certificates: a.chain.map((der) => ({ rawBytes: Buffer.from(der) })) },
    validFor: { start: a.start, end: a.end },
    operator: '',
  };
}

function log(l: LogInput): TransparencyLogInstance {
  return {
    baseUrl: l.baseUrl,
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: {
      rawBytes: Buffer.from(l.publicKey),
      keyDetails: PublicKeyDetails[l.keyDetails],
      validFor: { start: l.start, end: l.end },
    },
    logId: { keyId: Buffer.from(l.logId) },
    checkpointKeyId: undefined,
    operator: '',
  };
}

/** One service of a SigningConfig: its URL (the TSA's is the full timestamp endpoint) and major API version. */
export interface ServiceInput {
  url: string;
  majorApiVersion: number;
  start: Date;
  operator: string;
}

/** SigningConfig v0.2 JSON; logs and TSAs are selected with ANY (any one of those listed). */
export function signingConfigJson(services: {
  ca?: ServiceInput[];
  oidc?: ServiceInput[];
  tlog?: ServiceInput[];
  tsa?: ServiceInput[];
}): Record<string, unknown> {
  const service = (s: ServiceInput): Service => ({
    url: s.url,
    majorApiVersion: s.majorApiVersion,
    validFor: { start: s.start },
    operator: s.operator,
  });
  const config: SigningConfig = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: (services.ca ?? []).map(service),
    oidcUrls: (services.oidc ?? []).map(service),
    rekorTlogUrls: (services.tlog ?? []).map(service),
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaUrls: (services.tsa ?? []).map(service),
    tsaConfig: { selector: ServiceSelector.ANY, count: 0 },
  };
  return SigningConfig.toJSON(config) as Record<string, unknown>;
}
