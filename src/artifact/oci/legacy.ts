/**
 * Legacy cosign signatures: `sha256-<hex>.sig` tags whose layers are simple-signing payloads with the signature,
 * certificate, Rekor bundle and RFC 3161 timestamp in annotations. Each layer is converted to a Sigstore bundle (a
 * message signature over the payload bytes) so the ordinary verifier checks it; `checkSimpleSigning`
 * (src/artifact/oci/binding.ts) then binds the payload to the image.
 */
import { createHash } from 'node:crypto';
import { decodeBase64, pemCertificates } from '../../core/encoding.ts';
import { asInt, asObject, asString, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import type { FoundSignature } from './discover.ts';
import { type Descriptor, MEDIA } from './manifest.ts';
import { type RegistryClient, referrersTag } from './registry.ts';
import type { ResolvedImage } from './resolve.ts';

/** Annotations of a legacy signature layer (cosign pkg/oci/static). */
const LEGACY = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** The legacy signatures of `image`: each simple-signing layer of its `.sig` tag, converted (or failing when verified). */
export async function findLegacySignatures(
  image: ResolvedImage,
  client: RegistryClient,
  repository: string,
  max: number,
): Promise<FoundSignature[]> {
  const got = await client.getManifest(repository, `${referrersTag(image.digest)}.sig`);
  if (!got) return [];
  if (got.manifest.kind !== 'image') throw new VouchError('IMAGE_INVALID', 'cosign .sig tag is not an image manifest');
  const layers = got.manifest.layers.filter((l) => l.mediaType === MEDIA.cosignSimpleSigning);
  if (layers.length > max) throw new VouchError('IMAGE_INVALID', `${layers.length} legacy signatures (at most ${max})`);
  const out: FoundSignature[] = [];
  for (const layer of layers) {
    const payload = await client.getBlob(repository, layer, 64 << 10);
    try {
      out.push({ format: 'cosign-legacy', bundle: legacyToBundle(layer, payload), payload, referrer: got.digest });
    } catch (e) {
      // One malformed legacy layer must not hide the other signatures: it is a candidate that fails.
      if (!(e instanceof VouchError)) throw e;
      out.push({ format: 'cosign-legacy', bundle: '', payload, referrer: got.digest, error: e });
    }
  }
  return out;
}

/**
 * Convert one legacy cosign signature layer into a Sigstore bundle (protobuf-specs JSON):
 * signature -> messageSignature over SHA-256(payload); certificate (+chain) -> x509CertificateChain, or
 * publicKey hint when key-signed; the Rekor "bundle" annotation (SET + body) -> a tlog entry with an
 * inclusion promise (media type v0.1, the only bundle version without an inclusion proof); an RFC 3161 annotation
 * -> timestampVerificationData. The payload itself is checked by `checkSimpleSigning`.
 */
export function legacyToBundle(layer: Descriptor, payload: Buffer): string {
  const a = layer.annotations ?? {};
  const sig = a[LEGACY.signature];
  const cert = a[LEGACY.certificate];
  const chain = a[LEGACY.chain];
  const rekorBundle = a[LEGACY.bundle];
  const rfc3161 = a[LEGACY.rfc3161];
  if (!sig) throw new VouchError('BUNDLE_MALFORMED', 'legacy signature layer has no signature annotation');
  decodeBase64(sig, 'legacy signature');
  const material: Record<string, unknown> = {};
  if (cert) {
    const certs = [...pemCertificates(cert, 'certificate'), ...(chain ? pemCertificates(chain, 'chain') : [])];
    material.x509CertificateChain = { certificates: certs.map((c) => ({ rawBytes: c.toString('base64') })) };
  } else {
    material.publicKey = { hint: '' };
  }
  const mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
  material.tlogEntries = [];
  if (rekorBundle) {
    const rb = asObject(parseStrictJson(rekorBundle, { maxBytes: 1 << 20, what: 'rekor bundle' }), 'rekor bundle');
    const p = asObject(rb.Payload, 'rekor bundle Payload');
    const body = asString(p.body, 'Payload.body');
    const bodyJson = asObject(parseStrictJson(decodeBase64(body, 'Payload.body').toString('utf8')), 'entry body');
    const logId = asString(p.logID, 'Payload.logID');
    if (!/^[0-9a-f]{64}$/.test(logId)) throw new VouchError('BUNDLE_MALFORMED', 'Payload.logID is not a hex key id');
    material.tlogEntries = [
      {
        logIndex: asInt(p.logIndex, 'Payload.logIndex').toString(),
        logId: { keyId: Buffer.from(logId, 'hex').toString('base64') },
        kindVersion: { kind: asString(bodyJson.kind, 'kind'), version: asString(bodyJson.apiVersion, 'apiVersion') },
        integratedTime: asInt(p.integratedTime, 'Payload.integratedTime').toString(),
        inclusionPromise: { signedEntryTimestamp: asString(rb.SignedEntryTimestamp, 'SignedEntryTimestamp') },
        canonicalizedBody: body,
      },
    ];
  }
  if (rfc3161) {
    const ts = asObject(parseStrictJson(rfc3161, { maxBytes: 1 << 20 }), 'rfc3161 annotation');
    material.timestampVerificationData = {
      rfc3161Timestamps: [{ signedTimestamp: asString(ts.SignedRFC3161Timestamp, 'SignedRFC3161Timestamp') }],
    };
  }
  const digest = createHash('sha256').update(payload).digest('base64');
  return JSON.stringify({
    mediaType,
    verificationMaterial: material,
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest }, signature: sig },
  });
}
