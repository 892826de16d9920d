/**
 * A small client of the Fulcio v2 CA API (`POST /api/v2/signingCert`, sigstore/fulcio fulcio.proto
 * CreateSigningCertificate): sends an identity token, a public key and a proof of possession, and receives the
 * certificate chain. The answer is checked before use: the leaf must certify exactly the key we sent, otherwise a
 * broken or hostile CA could make us publish a signature bound to someone else's key.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { request as httpRequest } from '../core/http.ts';
import { VouchError } from '../errors.ts';

const MAX_ANSWER_BYTES = 256 * 1024;
const MAX_CHAIN = 8;

export interface CertificateRequest {
  identityToken: string;
  /** SPKI PEM of the ephemeral key. */
  publicKeyPem: string;
  /** Signature by that key over the token's principal name (see identity/token.ts proofSubject). */
  proofOfPossession: Buffer;
}

export interface IssuedCertificate {
  /** PEM certificates, leaf first. */
  chain: string[];
  leaf: X509Certificate;
  /** Whether the CA embedded the SCT in the certificate (the v0.3 bundle carries no detached SCT). */
  embeddedSct: boolean;
}

/** The role: anything that turns a token and a key into a certificate. */
export interface CertificateAuthority {
  createSigningCertificate(request: CertificateRequest): Promise<IssuedCertificate>;
}

export class FulcioClient implements CertificateAuthority {
  readonly baseUrl: string;
  readonly #timeoutMs: number | undefined;

  /** `timeoutMs`: the overall deadline of the request (default: the HTTP module's, see src/core/http.ts). */
  constructor(baseUrl: string, options: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs;
  }

  async createSigningCertificate(request: CertificateRequest): Promise<IssuedCertificate> {
    const url = `${this.baseUrl}/api/v2/signingCert`;
    const body = {
      credentials: { oidcIdentityToken: request.identityToken },
      publicKeyRequest: {
        publicKey: { algorithm: keyAlgorithm(request.publicKeyPem), content: request.publicKeyPem },
        proofOfPossession: request.proofOfPossession.toString('base64'),
      },
    };
    const res = await httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      maxBytes: MAX_ANSWER_BYTES,
      what: 'the certificate authority',
      ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
    });
    const text = res.body.toString('utf8');
    if (res.status === 401 || res.status === 403) {
      // The CA verified the token and refused it: the user must fix the token, not retry the service.
      throw new VouchError('TOKEN_INVALID', `the certificate authority refused the identity token: ${brief(text)}`, {
        details: { status: res.status },
      });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new VouchError('SERVICE_ERROR', `the certificate authority answered HTTP ${res.status}: ${brief(text)}`, {
        details: { status: res.status },
      });
    }
    return parseAnswer(text, request.publicKeyPem);
  }
}

function parseAnswer(text: string, publicKeyPem: string): IssuedCertificate {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', 'the certificate authority answered something that is not JSON', {
      cause: e,
    });
  }
  const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  const embedded = a.signedCertificateEmbeddedSct as { chain?: { certificates?: unknown } } | undefined;
  const detached = a.signedCertificateDetachedSct as { chain?: { certificates?: unknown } } | undefined;
  const certificates = (embedded ?? detached)?.chain?.certificates;
  if (
    !Array.isArray(certificates) ||
    certificates.length === 0 ||
    certificates.length > MAX_CHAIN ||
    !certificates.every((c) => typeof c === 'string')
  ) {
    throw new VouchError('SERVICE_ERROR', 'the certificate authority answered without a certificate chain');
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certificates[0] as string);
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', 'the certificate authority answered an unreadable certificate', { cause: e });
  }
  const expected = spkiDer(publicKeyPem);
  const got = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!expected.equals(got)) {
    throw new VouchError('SERVICE_ERROR', 'the certificate authority certified another key than the one sent');
  }
  return { chain: certificates as string[], leaf, embeddedSct: embedded !== undefined };
}

function spkiDer(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

function keyAlgorithm(pem: string): 'ECDSA' | 'ED25519' | 'RSA_PSS' {
  const type = createPublicKey(pem).asymmetricKeyType;
  switch (type) {
    case 'ec':
      return 'ECDSA';
    case 'ed25519':
      return 'ED25519';
    case 'rsa':
      return 'RSA_PSS';
    default:
      throw new VouchError('KEY_INVALID', `keyless signing cannot use a ${type} key`);
  }
}

function brief(text: string): string {
  return text.replace(/\s+/g, ' ').slice(0, 200);
}
