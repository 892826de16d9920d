/**
 * The certificate authority (Fulcio v2 semantics): exchange a verified OIDC identity token plus proof of
 * possession of a key for a 10-minute code-signing certificate that binds the key to the identity.
 *
 * Certificate profile (Fulcio's): empty subject, critical SAN with the email or workflow URI, key usage
 * digitalSignature, EKU codeSigning, the issuer in 1.3.6.1.4.1.57264.1.8 (DER UTF8String) and legacy .1.1 (raw
 * bytes), and the CI workflow claims in .1.9 onwards (Fulcio docs/oid-info.md). No SCT: this CA logs to no CT log,
 * and the trusted root it publishes lists none.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate as NodeX509, verify } from 'node:crypto';
// tsyringe, which @peculiar/x509 uses, needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { decodeBase64 } from '../../core/encoding.ts';
import { VouchError } from '../../errors.ts';
import { type CertificateAuthorityMaterial, randomSerial, SIGNING_ALG } from '../pki.ts';
import type { TokenVerifier, VerifiedToken } from './oidc.ts';

const OID = (n: number) => `1.3.6.1.4.1.57264.1.${n}`;
const CERT_VALIDITY_MS = 10 * 60_000;

export interface IssuedCertificate {
  /** PEM chain: leaf, intermediate, root. */
  chain: string[];
}

/** What the certificate will say about the signer. */
export interface Identity {
  san: { type: 'email' | 'url'; value: string };
  /** The string the client must have signed as proof of possession (Fulcio's challenge claim). */
  challenge: string;
  /** Extension OID -> value; legacy ones are raw bytes, the others DER UTF8String. */
  extensions: { oid: string; value: string; legacy: boolean }[];
}

function claim(c: Record<string, unknown>, name: string): string | undefined {
  const v = c[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : typeof v === 'number' ? String(v) : undefined;
}

function need(c: Record<string, unknown>, name: string): string {
  const v = claim(c, name);
  if (v === undefined) throw new VouchError('TOKEN_INVALID', `identity token rejected: claim ${name} is missing`);
  return v;
}

// SAN values are IA5String (RFC 5280 §4.2.1.6): printable ASCII only, so a hostile claim cannot smuggle control
// characters or fail deep inside the certificate encoder.
const IA5 = /^[\x21-\x7e]{1,1024}$/;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;

function checkSan(san: Identity['san']): Identity['san'] {
  const ok = IA5.test(san.value) && (san.type === 'email' ? EMAIL.test(san.value) : URL.canParse(san.value));
  if (!ok)
    throw new VouchError('TOKEN_INVALID', `identity token rejected: ${san.type} identity is not a valid ASCII value`);
  return san;
}

/** Map a verified token to the certificate identity, per issuer type (Fulcio's claim mapping). */
export function identityOf(t: VerifiedToken): Identity {
  const id = mapIdentity(t);
  checkSan(id.san);
  return id;
}

function mapIdentity(t: VerifiedToken): Identity {
  const c = t.claims as Record<string, unknown>;
  const ext: Identity['extensions'] = [
    { oid: OID(1), value: t.issuer, legacy: true },
    { oid: OID(8), value: t.issuer, legacy: false },
  ];
  const add = (n: number, v: string | undefined, legacy = false) => {
    if (v !== undefined) ext.push({ oid: OID(n), value: v, legacy });
  };
  switch (t.type) {
    case 'email': {
      const email = need(c, 'email');
      // An unverified address is a claim anyone can make about any mailbox.
      if (c.email_verified !== true)
        throw new VouchError('TOKEN_INVALID', 'identity token rejected: email not verified');
      return { san: { type: 'email', value: email }, challenge: email, extensions: ext };
    }
    case 'uri': {
      const sub = need(c, 'sub');
      if (!URL.canParse(sub)) throw new VouchError('TOKEN_INVALID', 'identity token rejected: sub is not a URI');
      return { san: { type: 'url', value: sub }, challenge: sub, extensions: ext };
    }
    case 'github-workflow': {
      const base = 'https://github.com/';
      const jobRef = need(c, 'job_workflow_ref');
      const repo = need(c, 'repository');
      add(2, claim(c, 'event_name'), true);
      add(3, claim(c, 'sha'), true);
      add(4, claim(c, 'workflow'), true);
      add(5, repo, true);
      add(6, claim(c, 'ref'), true);
      add(9, base + jobRef);
      add(10, claim(c, 'job_workflow_sha'));
      add(11, claim(c, 'runner_environment'));
      add(12, base + repo);
      add(13, claim(c, 'sha'));
      add(14, claim(c, 'ref'));
      add(15, claim(c, 'repository_id'));
      const owner = claim(c, 'repository_owner');
      add(16, owner === undefined ? undefined : base + owner);
      add(17, claim(c, 'repository_owner_id'));
      const wf = claim(c, 'workflow_ref');
      add(18, wf === undefined ? undefined : base + wf);
      add(19, claim(c, 'workflow_sha'));
      add(20, claim(c, 'event_name'));
      const run = claim(c, 'run_id');
      const attempt = claim(c, 'run_attempt');
      add(21, run && attempt ? `${base}${repo}/actions/runs/${run}/attempts/${attempt}` : undefined);
      add(22, claim(c, 'repository_visibility'));
      return { san: { type: 'url', value: base + jobRef }, challenge: need(c, 'sub'), extensions: ext };
    }
    case 'gitlab-pipeline': {
      const base = 'https://gitlab.com/';
      const configRef = need(c, 'ci_config_ref_uri');
      const project = need(c, 'project_path');
      add(9, `https://${configRef}`);
      add(10, claim(c, 'ci_config_sha'));
      add(11, claim(c, 'runner_environment'));
      add(12, base + project);
      add(13, claim(c, 'sha'));
      const ref = claim(c, 'ref');
      const refType = claim(c, 'ref_type');
      add(14, ref && refType ? `refs/${refType === 'tag' ? 'tags' : 'heads'}/${ref}` : undefined);
      add(15, claim(c, 'project_id'));
      const ns = claim(c, 'namespace_path');
      add(16, ns === undefined ? undefined : base + ns);
      add(17, claim(c, 'namespace_id'));
      add(18, `https://${configRef}`);
      add(19, claim(c, 'ci_config_sha'));
      add(20, claim(c, 'pipeline_source'));
      const job = claim(c, 'job_id');
      add(21, job ? `${base}${project}/-/jobs/${job}` : undefined);
      add(22, claim(c, 'project_visibility'));
      return { san: { type: 'url', value: `https://${configRef}` }, challenge: need(c, 'sub'), extensions: ext };
    }
  }
}

function parseSubmittedKey(pem: unknown): KeyObject {
  if (typeof pem !== 'string' || pem.length > 8192)
    throw new VouchError('REQUEST_INVALID', 'publicKey.content must be a PEM key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new VouchError('REQUEST_INVALID', 'publicKey.content is not a PEM public key', { cause: e });
  }
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const crv = key.export({ format: 'jwk' }).crv;
    if (crv !== 'P-256' && crv !== 'P-384') throw new VouchError('REQUEST_INVALID', `curve ${crv} is not accepted`);
  } else if (t === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new VouchError('REQUEST_INVALID', 'RSA keys must be >= 2048 bits');
  } else if (t !== 'ed25519') {
    throw new VouchError('REQUEST_INVALID', `key type ${t} is not accepted`);
  }
  return key;
}

/** RFC 5280 §4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING contents, hex. */
export function keyIdentifier(spkiDer: Buffer): string {
  const asn = asn1js.fromBER(new Uint8Array(spkiDer));
  const bits = (asn.result as asn1js.Sequence).valueBlock.value[1] as asn1js.BitString;
  return createHash('sha1').update(bits.valueBlock.valueHexView).digest('hex');
}

function popHash(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec' && key.export({ format: 'jwk' }).crv === 'P-384') return 'sha384';
  return 'sha256';
}

export interface CertificateAuthorityOptions {
  material: CertificateAuthorityMaterial;
  tokens: TokenVerifier;
  /**
   * Development issuers (the stack's own `/oidc`): their identities are certified by the local development
   * intermediate, which the trusted root marks (src/core/localdev.ts), so verifiers anywhere know what they are.
   */
  localIssuers?: string[];
  clock?: () => Date;
}

interface Issuing {
  cert: x509.X509Certificate;
  key: CertificateAuthorityMaterial['intermediateKey'];
  authorityKeyId: string;
}

export class CertificateAuthority {
  readonly material: CertificateAuthorityMaterial;
  readonly tokens: TokenVerifier;
  private readonly clock: () => Date;

  private readonly issuing: Issuing;
  private readonly localIssuing: Issuing;
  private readonly localIssuers: Set<string>;

  constructor(o: CertificateAuthorityOptions) {
    this.material = o.material;
    const m = o.material;
    this.issuing = {
      cert: m.intermediate,
      key: m.intermediateKey,
      authorityKeyId: keyIdentifier(m.intermediateKey.spki),
    };
    this.localIssuing = {
      cert: m.localIntermediate,
      key: m.localIntermediateKey,
      authorityKeyId: keyIdentifier(m.localIntermediateKey.spki),
    };
    this.localIssuers = new Set(o.localIssuers ?? []);
    this.tokens = o.tokens;
    this.clock = o.clock ?? (() => new Date());
  }

  /** PEM chain of the CA that certifies other issuers' identities: intermediate, root. */
  chainPem(): string[] {
    return [this.material.intermediate.toString('pem'), this.material.root.toString('pem')];
  }

  /** PEM chains of every issuing CA (the trust bundle): the ordinary one, then the local development one. */
  chainsPem(): string[][] {
    const chains = [this.chainPem()];
    if (this.localIssuers.size > 0) {
      chains.push([this.material.localIntermediate.toString('pem'), this.material.root.toString('pem')]);
    }
    return chains;
  }

  /**
   * Issue a certificate for `publicKeyPem` to the identity of `token`, if `proofOfPossession` (base64 signature
   * over the identity's challenge string) verifies with that key: this proves the requester holds the private key,
   * so nobody can get a certificate binding their identity to someone else's key.
   */
  async issue(token: unknown, publicKeyPem: unknown, proofOfPossession: unknown): Promise<IssuedCertificate> {
    const verified = await this.tokens.verify(token);
    const identity = identityOf(verified);
    const key = parseSubmittedKey(publicKeyPem);
    const pop = decodeBase64(proofOfPossession, 'proofOfPossession', 'PROOF_OF_POSSESSION_INVALID');
    let ok = false;
    try {
      ok = verify(popHash(key), Buffer.from(identity.challenge, 'utf8'), key, pop);
    } catch {
      ok = false;
    }
    if (!ok) throw new VouchError('PROOF_OF_POSSESSION_INVALID', 'proof of possession does not verify with the key');
    const now = this.clock();
    const local = this.localIssuers.has(verified.issuer);
    const { cert: intermediate, key: intermediateKey, authorityKeyId } = local ? this.localIssuing : this.issuing;
    const spki = key.export({ format: 'der', type: 'spki' });
    const extensions: x509.Extension[] = [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
      // Key identifiers computed here (RFC 5280 §4.2.1.2 method 1: SHA-1 of the public key bits) instead of through
      // async WebCrypto round trips, which dominated issuance time.
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(spki)),
      new x509.AuthorityKeyIdentifierExtension(authorityKeyId),
      // RFC 5280 §4.2.1.6: the SAN must be critical when the subject is empty.
      new x509.SubjectAlternativeNameExtension([{ type: identity.san.type, value: identity.san.value }], true),
      ...identity.extensions.map(
        (e) =>
          new x509.Extension(
            e.oid,
            false,
            e.legacy ? Buffer.from(e.value, 'utf8') : new asn1js.Utf8String({ value: e.value }).toBER(),
          ),
      ),
    ];
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: '',
      issuer: intermediate.subjectName,
      notBefore: now,
      notAfter: new Date(now.getTime() + CERT_VALIDITY_MS),
      publicKey: spki,
      signingKey: intermediateKey.cryptoKeys.privateKey,
      signingAlgorithm: SIGNING_ALG,
      extensions,
    });
    // Cheap self-check with an independent parser: the leaf must chain to the intermediate.
    const nodeLeaf = new NodeX509(Buffer.from(leaf.rawData));
    if (!nodeLeaf.verify(intermediateKey.publicKey))
      throw new VouchError('INTERNAL', 'issued certificate does not verify');
    return { chain: [leaf.toString('pem'), intermediate.toString('pem'), this.material.root.toString('pem')] };
  }
}
